//! R15-R18: what a cancelled WishPost tracking does to an order.
//!
//! Reading of seed 001: the confirmed-date removal (R15) applies to orders "shipped via WishPost
//! with a confirmed fulfillment date first"; the re-release and refund (R16) are the follow-up of
//! that same situation, so an order whose tracking was never confirmed is not affected (its
//! tracking already earns no payment, R6, and the merchant repairs it with modify-tracking, R4).

use chrono::{DateTime, Duration, Utc};

use crate::calendar::calendar_days_between;
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
    /// For a re-release: when the order must be shipped again (Merchant Policy 5.1).
    pub new_deadline: Option<DateTime<Utc>>,
    /// Why, citing the rules; stored with the decision.
    pub explanation: String,
}

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
        new_deadline: None,
        explanation: String::new(),
    };
    let not_applicable = |why: String| CancellationDecision {
        explanation: why,
        ..base.clone()
    };
    if !input.carrier.eq_ignore_ascii_case("wishpost") {
        return not_applicable(format!(
            "R15: only WishPost cancellations are handled; this tracking is {:?}",
            input.carrier
        ));
    }
    if input.state != OrderState::Shipped {
        return not_applicable(format!(
            "R15: the order is {}, not SHIPPED",
            input.state.as_str()
        ));
    }
    if input.initial_released_at < values.confirmed_removal_from {
        return not_applicable(format!(
            "R15: released before {}; the confirmed date stays",
            values.confirmed_removal_from.to_rfc3339()
        ));
    }
    if !input.has_confirmed_fulfillment {
        return not_applicable(
            "R15: the tracking has no confirmed fulfillment date to remove; repair it with modify-tracking (R4)".to_owned(),
        );
    }

    let flagged = CancellationDecision {
        remove_confirmed_date: true,
        set_cancelled_flag: true,
        ..base.clone()
    };
    let eligible_country = values
        .rerelease_countries
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&input.merchant_country));
    if !eligible_country || input.cancelled_at < values.rerelease_from {
        let why = if eligible_country {
            format!(
                "cancelled before re-release started ({})",
                values.rerelease_from.to_rfc3339()
            )
        } else {
            format!(
                "merchant country {} is not eligible for re-release",
                input.merchant_country
            )
        };
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
            explanation: format!(
                "R16: cancelled {days} calendar days after the initial release (>= {threshold}): auto-refund, reason TRACKING_CANCELLED_LATE"
            ),
            ..flagged
        };
    }
    // R18: only a partner-carrier cancellation takes an A+ order out of the program.
    let aplus_leaves = input.is_advanced_logistics && input.cancelled_by == CancelledBy::Carrier;
    let flag = if aplus_leaves {
        OrderFlag::AplusTrackingNumberCancelled
    } else {
        OrderFlag::TrackingNumberCancelled
    };
    let aplus_note = match (input.is_advanced_logistics, aplus_leaves) {
        (true, true) => {
            "; R18: the partner carrier cancelled, so the A+ order leaves the program and ships to the customer's own address"
        }
        (true, false) => "; R18: the merchant cancelled, so the order stays in the A+ program",
        _ => "",
    };
    CancellationDecision {
        outcome: CancellationOutcome::ReRelease,
        flags: vec![flag],
        leave_aplus_program: aplus_leaves,
        reset_shipping_to_customer: aplus_leaves,
        new_deadline: Some(input.cancelled_at + Duration::days(values.rerelease_deadline_days)),
        explanation: format!(
            "R16: cancelled {days} calendar days after the initial release (< {threshold}): re-released with a new {}-day deadline; a new tracking number is required{aplus_note}",
            values.rerelease_deadline_days
        ),
        ..flagged
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

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
        assert_eq!(d24.new_deadline, Some(at(2021, 4, 30, 1)));
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
        let mut unconfirmed = base;
        unconfirmed.has_confirmed_fulfillment = false;
        let d = decide(&unconfirmed);
        assert_eq!(d.outcome, CancellationOutcome::NotApplicable);
        assert!(!d.set_cancelled_flag);
    }
}
