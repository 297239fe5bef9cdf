//! Owns: R13.
//!
//! R12, R13 (and R6): why a shipped order's tracking has no carrier scan yet, so no confirmed
//! fulfilment and no payment. The service loads the facts (carrier, number, status, whether the
//! merchant's Intelipost integration is connected) and asks [`stuck_reason`]; the answer is
//! what `ListStuckTrackings` tells the merchant.

use crate::tracking_number::{INTELIPOST, is_unresolved_intelipost};

/// Why a shipped order's tracking has no scan yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StuckReason {
    /// R13: an Intelipost tracking, and the merchant's Intelipost account pushes nothing to us.
    IntelipostNotConnected,
    /// R12: the carrier's own number, which Intelipost has not yet reported an NF-e for.
    UnresolvedCarrierNumber,
    /// R6: the carrier has not scanned the parcel yet.
    NoCarrierScan,
}

/// The reason and the message for the merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck {
    pub reason: StuckReason,
    pub message: String,
}

/// Why the tracking `carrier` `tracking_number` (status `status`) of a shipped order has no
/// scan yet. An unresolved carrier number comes first: until Intelipost reports its NF-e no
/// push can reach it (R12), connected or not. Then a disconnected Intelipost integration
/// (R13): nothing will arrive at all. Otherwise the carrier simply has not scanned it (R6).
pub fn stuck_reason(
    carrier: &str,
    tracking_number: &str,
    status: &str,
    intelipost_connected: bool,
) -> Stuck {
    if is_unresolved_intelipost(carrier, tracking_number) {
        Stuck {
            reason: StuckReason::UnresolvedCarrierNumber,
            message: format!(
                "R12: Intelipost has not reported which NF-e invoice the carrier number {tracking_number} belongs to; fulfil with the NF-e number, or wait for Intelipost to report it"
            ),
        }
    } else if carrier.trim().eq_ignore_ascii_case(INTELIPOST) && !intelipost_connected {
        // R14 as corrected: the sales channel `wish` is a condition of the merchant's event
        // rule in Intelipost, not a field of the pushes, so the advice names the rule only.
        Stuck {
            reason: StuckReason::IntelipostNotConnected,
            message: "R13: the merchant's Intelipost account pushes no events to this service; connect the integration and add the webhook event rule in Intelipost (all macro events, Basic auth, limited to the sales channel wish)".to_owned(),
        }
    } else {
        Stuck {
            reason: StuckReason::NoCarrierScan,
            message: format!("R6: the carrier has not scanned the parcel yet (status {status})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r12_a_carrier_number_without_an_nfe_report_is_unresolved_connected_or_not() {
        for connected in [true, false] {
            let stuck = stuck_reason("intelipost", "OB123456789BR", "PENDING", connected);
            assert_eq!(stuck.reason, StuckReason::UnresolvedCarrierNumber);
            assert!(stuck.message.starts_with("R12:"), "{}", stuck.message);
        }
    }

    #[test]
    fn r13_an_nfe_tracking_of_a_disconnected_merchant_waits_for_the_integration() {
        let stuck = stuck_reason("intelipost", "35190", "PENDING", false);
        assert_eq!(stuck.reason, StuckReason::IntelipostNotConnected);
        assert!(stuck.message.starts_with("R13:"), "{}", stuck.message);
        // R14: the channel is the rule's condition; no push carries a sales channel field.
        assert!(
            !stuck.message.contains("sales_channel"),
            "{}",
            stuck.message
        );
    }

    #[test]
    fn r6_otherwise_the_carrier_has_not_scanned_yet() {
        let stuck = stuck_reason("intelipost", "35190", "PENDING", true);
        assert_eq!(stuck.reason, StuckReason::NoCarrierScan);
        // The integration only matters for Intelipost.
        let stuck = stuck_reason("wishpost", "WP12345678", "INFO_RECEIVED", false);
        assert_eq!(stuck.reason, StuckReason::NoCarrierScan);
        assert!(stuck.message.contains("INFO_RECEIVED"), "{}", stuck.message);
    }
}
