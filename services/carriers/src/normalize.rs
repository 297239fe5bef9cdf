//! R21 in one place: a carrier's own status code, whoever reports it (our polling clients,
//! a webhook, or a caller pushing events over gRPC), mapped to our status by that carrier's
//! table.

use crate::{TrackingStatus, aftership, inpost, intelipost, poczta_polska, wishpost};

/// The status of an event of `carrier` with the carrier's own `code` (and `text`, which only
/// Poczta Polska needs, for codes it has not published). Any carrier without a direct client
/// is tracked through AfterShip, whose tags (or subtags, `Delivered_001`) are the code.
pub fn normalize(carrier: &str, code: &str, text: &str) -> TrackingStatus {
    let carrier = carrier.trim().to_ascii_lowercase();
    let code = code.trim();
    match carrier.as_str() {
        inpost::CODE => inpost::normalize(code),
        poczta_polska::CODE => poczta_polska::normalize_event(code, text),
        wishpost::CODE => wishpost::normalize(code),
        intelipost::CODE => intelipost::normalize(code),
        _ => aftership::normalize(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackingStatus::*;

    #[test]
    fn dispatches_by_carrier() {
        assert_eq!(
            normalize("inpost", "ready_to_pickup", ""),
            AvailableForPickup
        );
        assert_eq!(normalize("InPost", "canceled", ""), Cancelled);
        assert_eq!(normalize("poczta-polska", "P_D", "Doręczenie"), Delivered);
        assert_eq!(
            normalize("poczta-polska", "P_NEW", "Zwrot do nadawcy"),
            Exception
        );
        assert_eq!(normalize("wishpost", "Cancelled", ""), Cancelled);
        assert_eq!(normalize("wishpost", "23", ""), Delivered);
        assert_eq!(
            normalize("intelipost", "TO_BE_DELIVERED", ""),
            OutForDelivery
        );
        assert_eq!(normalize("usps", "AttemptFail", ""), FailedAttempt);
        assert_eq!(normalize("dhl", "Delivered_001", ""), Delivered);
    }
}
