//! Owns: R15, R16, R17, R18.
//!
//! R15-R18: what a cancelled WishPost tracking does to an order.
//!
//! Reading of seed 001: the confirmed-date removal (R15) applies to orders "shipped via WishPost
//! with a confirmed fulfillment date first"; the re-release and refund (R16) are the follow-up of
//! that same situation, so an order whose tracking was never confirmed is not affected (its
//! tracking already earns no payment, R6, and the merchant repairs it with modify-tracking, R4).

use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::calendar::calendar_days_between;
use crate::deadline::rerelease_deadline;
use crate::order_state::OrderState;
use crate::values::PolicyValues;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    Merchant,
    Carrier,
}

impl CancelledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "MERCHANT",
            Self::Carrier => "CARRIER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown canceller {0:?}")]
pub struct UnknownCanceller(pub String);

/// The one reading of a stored `cancelled_by` (R18): the database keeps it NOT NULL beside
/// `cancelled_at`, so an unknown word is a bug to report, never silently "the carrier".
impl FromStr for CancelledBy {
    type Err = UnknownCanceller;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "MERCHANT" => Ok(Self::Merchant),
            "CARRIER" => Ok(Self::Carrier),
            other => Err(UnknownCanceller(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFlag {
    TrackingNumberCancelled,
    AplusTrackingNumberCancelled,
}

impl OrderFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrackingNumberCancelled => "TRACKING_NUMBER_CANCELLED",
            Self::AplusTrackingNumberCancelled => "APLUS_TRACKING_NUMBER_CANCELLED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationOutcome {
    NotApplicable,
    FlagOnly,
    ReRelease,
    Refund,
}

impl CancellationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotApplicable => "NOT_APPLICABLE",
            Self::FlagOnly => "FLAG_ONLY",
            Self::ReRelease => "RE_RELEASE",
            Self::Refund => "REFUND",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationInput {
    pub initial_released_at: DateTime<Utc>,
    pub state: OrderState,
    /// Carrier code of the cancelled tracking.
    pub carrier: String,
    pub has_confirmed_fulfillment: bool,
    pub merchant_country: String,
    pub is_advanced_logistics: bool,
    pub cancelled_at: DateTime<Utc>,
    pub cancelled_by: CancelledBy,
    /// Whether the cancelled tracking is still the order's current one. A merchant who replaced
    /// it with modify-tracking (R4) since has repaired the order: nothing is left to decide.
    pub tracking_is_current: bool,
    /// R16: the moment the re-release would be written: the decider's clock when it decides,
    /// the moment a what-if assumes (default: now). The new deadline counts from it.
    pub re_released_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationDecision {
    pub outcome: CancellationOutcome,
    pub remove_confirmed_date: bool,
    pub set_cancelled_flag: bool,
    pub flags: Vec<OrderFlag>,
    pub leave_aplus_program: bool,
    pub reset_shipping_to_customer: bool,
    pub days_since_initial_release: i64,
    pub threshold_days: i64,
    /// For a re-release: the moment it is written (`order_re_released_date`), as assumed.
    pub re_released_at: Option<DateTime<Utc>>,
    /// For a re-release: when the order must be shipped again (Merchant Policy 5.1).
    pub new_deadline: Option<DateTime<Utc>>,
    /// For a refund: its reason.
    pub refund_reason: Option<&'static str>,
    /// Why, citing the rules; stored with the decision.
    pub explanation: String,
}

/// R16: the refund reason of a cancellation received too late for a re-release.
pub const TRACKING_CANCELLED_LATE: &str = "TRACKING_CANCELLED_LATE";

/// R18: a re-released A+ order leaves the program only when the partner carrier cancelled; a
/// merchant's own cancellation keeps it (shipped to the warehouse as before).
pub fn aplus_leaves_program(is_advanced_logistics: bool, cancelled_by: CancelledBy) -> bool {
    is_advanced_logistics && cancelled_by == CancelledBy::Carrier
}

/// R18: the flag a re-released order carries, by whether it left A+.
pub fn rerelease_flag(left_aplus_program: bool) -> OrderFlag {
    if left_aplus_program {
        OrderFlag::AplusTrackingNumberCancelled
    } else {
        OrderFlag::TrackingNumberCancelled
    }
}

/// R15–R18: the one decision on a cancelled tracking. The what-ifs (DecideCancellation,
/// EvaluateOrder) and the workers call it with the same facts and write what it answers.
pub fn decide_cancellation(
    input: &CancellationInput,
    values: &PolicyValues,
) -> CancellationDecision {
    let days = calendar_days_between(input.initial_released_at, input.cancelled_at);
    let threshold = values.rerelease_window_days;
    let base = CancellationDecision {
        outcome: CancellationOutcome::NotApplicable,
        remove_confirmed_date: false,
        set_cancelled_flag: false,
        flags: Vec::new(),
        leave_aplus_program: false,
        reset_shipping_to_customer: false,
        days_since_initial_release: days,
        threshold_days: threshold,
        re_released_at: None,
        new_deadline: None,
        refund_reason: None,
        explanation: String::new(),
    };
    if let Some(why) = why_not_applicable(input, values) {
        return CancellationDecision {
            explanation: why,
            ..base
        };
    }
    // R15: from here on the confirmed date goes and the tracking is flagged cancelled.
    let flagged = CancellationDecision {
        remove_confirmed_date: true,
        set_cancelled_flag: true,
        ..base
    };
    if let Some(why) = why_no_rerelease(input, values) {
        return CancellationDecision {
            outcome: CancellationOutcome::FlagOnly,
            explanation: format!(
                "R15: confirmed date removed and tracking flagged cancelled; R16: {why}, so the merchant repairs the order with modify-tracking (R4)"
            ),
            ..flagged
        };
    }
    if days >= threshold {
        return CancellationDecision {
            outcome: CancellationOutcome::Refund,
            refund_reason: Some(TRACKING_CANCELLED_LATE),
            explanation: format!(
                "R16: cancelled {days} calendar days after the initial release (>= {threshold}): auto-refund, reason TRACKING_CANCELLED_LATE"
            ),
            ..flagged
        };
    }
    re_release(input, values, flagged)
}

/// R15 (and R4): why the cancellation changes nothing, if it does not.
fn why_not_applicable(input: &CancellationInput, values: &PolicyValues) -> Option<String> {
    if !input.carrier.eq_ignore_ascii_case("wishpost") {
        return Some(format!(
            "R15: only WishPost cancellations are handled; this tracking is {:?}",
            input.carrier
        ));
    }
    if !input.tracking_is_current {
        return Some(
            "R4: the cancelled tracking was replaced with modify-tracking since; nothing to decide"
                .to_owned(),
        );
    }
    if input.state != OrderState::Shipped {
        return Some(format!(
            "R15: the order is {}, not SHIPPED",
            input.state.as_str()
        ));
    }
    if input.initial_released_at < values.confirmed_removal_from {
        return Some(format!(
            "R15: released before {}; the confirmed date stays",
            values.confirmed_removal_from.to_rfc3339()
        ));
    }
    if !input.has_confirmed_fulfillment {
        return Some(
            "R15: the tracking has no confirmed fulfillment date to remove; repair it with modify-tracking (R4)".to_owned(),
        );
    }
    None
}

/// R16: why the merchant is not eligible for a re-release or a refund (only the flag), if not.
fn why_no_rerelease(input: &CancellationInput, values: &PolicyValues) -> Option<String> {
    if !values.is_rerelease_country(&input.merchant_country) {
        return Some(format!(
            "merchant country {} is not eligible for re-release",
            input.merchant_country
        ));
    }
    (input.cancelled_at < values.rerelease_from).then(|| {
        format!(
            "cancelled before re-release started ({})",
            values.rerelease_from.to_rfc3339()
        )
    })
}

/// R16, R18: the re-release of an order whose tracking was cancelled in time.
fn re_release(
    input: &CancellationInput,
    values: &PolicyValues,
    flagged: CancellationDecision,
) -> CancellationDecision {
    let (days, threshold) = (flagged.days_since_initial_release, flagged.threshold_days);
    let aplus_leaves = aplus_leaves_program(input.is_advanced_logistics, input.cancelled_by);
    let aplus_note = match (input.is_advanced_logistics, aplus_leaves) {
        (true, true) => {
            "; R18: the partner carrier cancelled, so the A+ order leaves the program and ships to the customer's own address"
        }
        (true, false) => "; R18: the merchant cancelled, so the order stays in the A+ program",
        _ => "",
    };
    CancellationDecision {
        outcome: CancellationOutcome::ReRelease,
        flags: vec![rerelease_flag(aplus_leaves)],
        leave_aplus_program: aplus_leaves,
        reset_shipping_to_customer: aplus_leaves,
        re_released_at: Some(input.re_released_at),
        new_deadline: Some(rerelease_deadline(input.re_released_at, values)),
        explanation: format!(
            "R16: cancelled {days} calendar days after the initial release (< {threshold}): re-released with a new {}-day deadline; a new tracking number is required{aplus_note}",
            values.rerelease_deadline_days
        ),
        ..flagged
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn shipped_cn(released: DateTime<Utc>, cancelled: DateTime<Utc>) -> CancellationInput {
        CancellationInput {
            initial_released_at: released,
            state: OrderState::Shipped,
            carrier: "wishpost".into(),
            has_confirmed_fulfillment: true,
            merchant_country: "CN".into(),
            is_advanced_logistics: false,
            cancelled_at: cancelled,
            cancelled_by: CancelledBy::Carrier,
            tracking_is_current: true,
            // Decided two days after the cancellation arrived.
            re_released_at: cancelled + Duration::days(2),
        }
    }

    fn decide(input: &CancellationInput) -> CancellationDecision {
        decide_cancellation(input, &PolicyValues::default())
    }

    #[test]
    fn r16_24_calendar_days_re_releases_25_refunds() {
        let released = at(2021, 4, 1, 23);
        let d24 = decide(&shipped_cn(released, at(2021, 4, 25, 1)));
        assert_eq!(d24.outcome, CancellationOutcome::ReRelease);
        assert_eq!(d24.days_since_initial_release, 24);
        // R16: five days from the re-release (two days after the cancellation), not from it.
        assert_eq!(d24.new_deadline, Some(at(2021, 5, 2, 1)));
        assert_eq!(d24.flags, [OrderFlag::TrackingNumberCancelled]);
        assert!(d24.remove_confirmed_date && d24.set_cancelled_flag);
        let d25 = decide(&shipped_cn(released, at(2021, 4, 26, 0)));
        assert_eq!(d25.outcome, CancellationOutcome::Refund);
        assert!(d25.explanation.contains("TRACKING_CANCELLED_LATE"));
    }

    #[test]
    fn r16_counts_calendar_days_not_24_hour_periods() {
        // 24 days and 2 hours after release, but 25 calendar dates apart: refund.
        let released = at(2021, 4, 1, 23);
        let d = decide(&shipped_cn(
            released,
            released + Duration::days(24) + Duration::hours(2),
        ));
        assert_eq!(d.days_since_initial_release, 25);
        assert_eq!(d.outcome, CancellationOutcome::Refund);
        // 24 days 23 hours after a 00:00 release is still 24 calendar days: re-release.
        let midnight = at(2021, 4, 1, 0);
        let d = decide(&shipped_cn(
            midnight,
            midnight + Duration::days(24) + Duration::hours(23),
        ));
        assert_eq!(d.outcome, CancellationOutcome::ReRelease);
    }

    #[test]
    fn r15_orders_released_before_2020_11_10_keep_their_confirmed_date() {
        let before = decide(&shipped_cn(at(2020, 11, 9, 23), at(2021, 4, 1, 0)));
        assert_eq!(before.outcome, CancellationOutcome::NotApplicable);
        assert!(!before.remove_confirmed_date);
        let on = decide(&shipped_cn(at(2020, 11, 10, 0), at(2020, 11, 20, 0)));
        assert!(on.remove_confirmed_date);
    }

    #[test]
    fn r16_cancellations_before_2021_03_04_only_flag() {
        let released = at(2021, 2, 20, 0);
        let before = decide(&shipped_cn(released, at(2021, 3, 3, 23)));
        assert_eq!(before.outcome, CancellationOutcome::FlagOnly);
        assert!(before.remove_confirmed_date && before.set_cancelled_flag);
        let from = decide(&shipped_cn(released, at(2021, 3, 4, 0)));
        assert_eq!(from.outcome, CancellationOutcome::ReRelease);
    }

    #[test]
    fn r16_merchants_outside_mainland_china_only_get_the_flag() {
        let mut input = shipped_cn(at(2021, 5, 1, 0), at(2021, 5, 3, 0));
        input.merchant_country = "BR".into();
        let d = decide(&input);
        assert_eq!(d.outcome, CancellationOutcome::FlagOnly);
        assert!(d.explanation.contains("BR"));
    }

    #[test]
    fn r18_aplus_partner_carrier_cancel_leaves_program_merchant_cancel_stays() {
        let mut input = shipped_cn(at(2021, 5, 1, 0), at(2021, 5, 3, 0));
        input.is_advanced_logistics = true;
        let carrier = decide(&input);
        assert_eq!(carrier.flags, [OrderFlag::AplusTrackingNumberCancelled]);
        assert!(carrier.leave_aplus_program && carrier.reset_shipping_to_customer);
        input.cancelled_by = CancelledBy::Merchant;
        let merchant = decide(&input);
        assert_eq!(merchant.flags, [OrderFlag::TrackingNumberCancelled]);
        assert!(!merchant.leave_aplus_program && !merchant.reset_shipping_to_customer);
        assert_eq!(merchant.outcome, CancellationOutcome::ReRelease);
    }

    #[test]
    fn r18_cancelled_by_reads_only_the_stored_words() {
        assert_eq!("MERCHANT".parse(), Ok(CancelledBy::Merchant));
        assert_eq!("CARRIER".parse(), Ok(CancelledBy::Carrier));
        assert!("".parse::<CancelledBy>().is_err());
        assert!("merchant".parse::<CancelledBy>().is_err());
    }

    #[test]
    fn r15_other_carriers_unshipped_orders_and_unconfirmed_trackings_are_not_affected() {
        let base = shipped_cn(at(2021, 5, 1, 0), at(2021, 5, 3, 0));
        let mut other = base.clone();
        other.carrier = "usps".into();
        assert_eq!(decide(&other).outcome, CancellationOutcome::NotApplicable);
        for state in [OrderState::Approved, OrderState::Refunded] {
            let mut s = base.clone();
            s.state = state;
            assert_eq!(decide(&s).outcome, CancellationOutcome::NotApplicable);
        }
        let mut replaced = base.clone();
        replaced.tracking_is_current = false;
        let d = decide(&replaced);
        assert_eq!(d.outcome, CancellationOutcome::NotApplicable);
        assert!(d.explanation.starts_with("R4"));
        let mut unconfirmed = base;
        unconfirmed.has_confirmed_fulfillment = false;
        let d = decide(&unconfirmed);
        assert_eq!(d.outcome, CancellationOutcome::NotApplicable);
        assert!(!d.set_cancelled_flag);
    }
}
