//! Owns: R6.
//!
//! R6: an order is eligible for payment only when shipped with a valid tracking whose carrier
//! has confirmed fulfillment (the first real scan).

use chrono::{DateTime, Utc};

use crate::order_state::OrderState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEligibility {
    pub eligible: bool,
    pub reason: String,
}

pub fn payment_eligibility(
    state: OrderState,
    has_valid_tracking: bool,
    confirmed_fulfillment_at: Option<DateTime<Utc>>,
) -> PaymentEligibility {
    let (eligible, reason) = match (state, has_valid_tracking, confirmed_fulfillment_at) {
        (OrderState::Approved, _, _) => {
            (false, "R6: order is APPROVED, not shipped yet".to_owned())
        }
        (OrderState::Refunded, _, _) => (false, "R6: order was refunded".to_owned()),
        (OrderState::Shipped, false, _) => (
            false,
            "R6: order has no valid tracking number and carrier".to_owned(),
        ),
        (OrderState::Shipped, true, None) => (
            false,
            "R6: tracking is still PENDING: the carrier has not confirmed fulfillment".to_owned(),
        ),
        (OrderState::Shipped, true, Some(at)) => (
            true,
            format!(
                "R6: eligible: shipped with tracking confirmed by the carrier at {}",
                at.to_rfc3339()
            ),
        ),
    };
    PaymentEligibility { eligible, reason }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn r6_only_a_confirmed_shipped_order_is_eligible() {
        let at = Utc.with_ymd_and_hms(2021, 5, 2, 0, 0, 0).unwrap();
        assert!(payment_eligibility(OrderState::Shipped, true, Some(at)).eligible);
        let pending = payment_eligibility(OrderState::Shipped, true, None);
        assert!(!pending.eligible && pending.reason.contains("PENDING"));
        assert!(!payment_eligibility(OrderState::Approved, false, None).eligible);
        assert!(!payment_eligibility(OrderState::Refunded, true, Some(at)).eligible);
        assert!(!payment_eligibility(OrderState::Shipped, false, Some(at)).eligible);
    }
}
