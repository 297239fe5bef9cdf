//! Owns: R4.
//!
//! The order state machine: APPROVED -> SHIPPED -> (REFUNDED); a re-release sends SHIPPED back
//! to APPROVED (R16).

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    Approved,
    Shipped,
    Refunded,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::Shipped => "SHIPPED",
            Self::Refunded => "REFUNDED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for OrderState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "APPROVED" => Ok(Self::Approved),
            "SHIPPED" => Ok(Self::Shipped),
            "REFUNDED" => Ok(Self::Refunded),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error(
        "R3: order is SHIPPED; only an APPROVED order can be marked shipped (use ModifyTracking)"
    )]
    AlreadyShipped,
    #[error("R3: order is REFUNDED and can no longer be shipped")]
    Refunded,
    #[error("R4: order is {0}; only a SHIPPED order's tracking can be modified")]
    NotShipped(&'static str),
}

impl StateError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AlreadyShipped => "ORDER_ALREADY_SHIPPED",
            Self::Refunded => "ORDER_REFUNDED",
            Self::NotShipped(_) => "ORDER_NOT_SHIPPED",
        }
    }
}

/// R3: only an APPROVED order is marked shipped.
pub fn check_can_fulfill(state: OrderState) -> Result<(), StateError> {
    match state {
        OrderState::Approved => Ok(()),
        OrderState::Shipped => Err(StateError::AlreadyShipped),
        OrderState::Refunded => Err(StateError::Refunded),
    }
}

/// R4: only a SHIPPED order's tracking is replaced.
pub fn check_can_modify_tracking(state: OrderState) -> Result<(), StateError> {
    match state {
        OrderState::Shipped => Ok(()),
        other => Err(StateError::NotShipped(other.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r3_r4_transitions() {
        assert!(check_can_fulfill(OrderState::Approved).is_ok());
        assert_eq!(
            check_can_fulfill(OrderState::Shipped),
            Err(StateError::AlreadyShipped)
        );
        assert_eq!(
            check_can_fulfill(OrderState::Refunded),
            Err(StateError::Refunded)
        );
        assert!(check_can_modify_tracking(OrderState::Shipped).is_ok());
        assert!(check_can_modify_tracking(OrderState::Approved).is_err());
        assert!(check_can_modify_tracking(OrderState::Refunded).is_err());
        for s in [
            OrderState::Approved,
            OrderState::Shipped,
            OrderState::Refunded,
        ] {
            assert_eq!(s.as_str().parse::<OrderState>(), Ok(s));
        }
        assert!("LOST".parse::<OrderState>().is_err());
    }
}
