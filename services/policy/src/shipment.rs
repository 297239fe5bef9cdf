//! Owns: R20.
//!
//! R20: for one or many selected orders the buyer's delivery data goes to the carrier, which
//! returns a tracking number; the service attaches it and marks the order shipped (R3).
//! Creating a shipment again for an order that already has one needs an explicit confirmation;
//! this module decides when a new shipment may be created.

use crate::order_state::OrderState;

/// What the order already has, as far as a new shipment is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShipmentFacts {
    pub state: OrderState,
    /// The order has a live (created) shipment with a carrier.
    pub has_shipment: bool,
    /// The caller confirmed that a new shipment replaces what the order shipped with.
    pub confirm_recreate: bool,
}

/// Why no shipment is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The order shipped with a shipment of ours; creating another needs the confirmation.
    ShipmentExists,
    /// The order was marked shipped by other means; a shipment would replace its tracking.
    AlreadyShipped,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::ShipmentExists => "SHIPMENT_EXISTS",
            Self::AlreadyShipped => "ORDER_ALREADY_SHIPPED",
        }
    }
}

/// R20: may a shipment be created now? An `APPROVED` order with a shipment was re-released
/// after its tracking was cancelled (R16): that shipment no longer counts, so it needs no
/// confirmation. A `SHIPPED` order needs one, whether it shipped with our shipment or not.
pub fn may_create(facts: ShipmentFacts) -> Result<(), Refusal> {
    match facts {
        ShipmentFacts {
            state: OrderState::Shipped,
            confirm_recreate: false,
            has_shipment,
        } => Err(if has_shipment {
            Refusal::ShipmentExists
        } else {
            Refusal::AlreadyShipped
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_shipment_needs_the_confirmation_only_for_a_shipped_order() {
        let cases = [
            (OrderState::Approved, false, false, Ok(())),
            (OrderState::Approved, true, false, Ok(())),
            (
                OrderState::Shipped,
                true,
                false,
                Err(Refusal::ShipmentExists),
            ),
            (
                OrderState::Shipped,
                false,
                false,
                Err(Refusal::AlreadyShipped),
            ),
            (OrderState::Shipped, true, true, Ok(())),
            (OrderState::Shipped, false, true, Ok(())),
        ];
        for (state, has_shipment, confirm_recreate, expected) in cases {
            let facts = ShipmentFacts {
                state,
                has_shipment,
                confirm_recreate,
            };
            assert_eq!(may_create(facts), expected, "{facts:?}");
        }
    }
}
