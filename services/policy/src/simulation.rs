//! Owns: no rule; replays the owners' decisions under other R30 values.
//!
//! R5, R15–R18, R30 (issue 24): replaying recorded decisions under other policy values.
//!
//! A simulation judges each decision the rules made twice, through the very functions that
//! made it ([`is_overdue`] and the deadlines of R2/R16 for R5, [`decide_cancellation`] for
//! R15–R18): once under the version that made it (which must give the recorded outcome: that is
//! the honesty check) and once under the candidate. Facts history does not hold are never
//! guessed: the decision is counted as not judged, with the reason.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::cancellation::{CancellationInput, CancelledBy, decide_cancellation};
use crate::deadline::{fulfillment_deadline, is_overdue, rerelease_deadline};
use crate::order_state::OrderState;
use crate::values::PolicyValues;

/// R5: late refunds (and the shipments that beat, or missed, the deadline).
pub const RULE_LATE: &str = "R5";
/// R15–R18: what a cancelled tracking did to the order.
pub const RULE_CANCELLATION: &str = "R15-R18";

/// The release a deadline counted from at a decision: the order's first release (R2) or its
/// latest re-release (R16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    Initial(DateTime<Utc>),
    ReRelease(DateTime<Utc>),
}

/// R2, R16: the deadline that follows from a release under `values`.
pub fn deadline_after(release: Release, values: &PolicyValues) -> DateTime<Utc> {
    match release {
        Release::Initial(at) => fulfillment_deadline(at, values),
        Release::ReRelease(at) => rerelease_deadline(at, values),
    }
}

/// The R5 decision points history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateDecision {
    /// The merchant marked the order shipped while it was `APPROVED` (R2: late or not).
    Shipment,
    /// The deadline worker refunded it (`NOT_SHIPPED_IN_TIME`).
    Refund,
}

/// An outcome and why, as the rule would state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: &'static str,
    pub explanation: String,
}

/// R5 at a recorded decision point `at`: was the order overdue then?
pub fn judge_late(
    decision: LateDecision,
    release: Release,
    at: DateTime<Utc>,
    values: &PolicyValues,
) -> Judgement {
    let deadline = deadline_after(release, values);
    // The order was APPROVED at both decision points (shipping it, refunding it).
    let overdue = is_overdue(OrderState::Approved, deadline, at);
    let (from, days) = match release {
        Release::Initial(r) => (
            format!("release {}", r.to_rfc3339()),
            values.fulfillment_window_days,
        ),
        Release::ReRelease(r) => (
            format!("re-release {}", r.to_rfc3339()),
            values.rerelease_deadline_days,
        ),
    };
    let outcome = match (decision, overdue) {
        (LateDecision::Shipment, false) => "SHIPPED_ON_TIME",
        (LateDecision::Shipment, true) => "SHIPPED_LATE",
        (LateDecision::Refund, true) => "REFUND",
        (LateDecision::Refund, false) => "NOT_YET_DUE",
    };
    let explanation = match outcome {
        "SHIPPED_ON_TIME" => format!(
            "R2: shipped {} within the deadline {} ({days} days after the {from})",
            at.to_rfc3339(),
            deadline.to_rfc3339()
        ),
        "SHIPPED_LATE" => format!(
            "R2, R5: still APPROVED past the deadline {} ({days} days after the {from}) when shipped {}: late, refundable by the deadline worker from the deadline on",
            deadline.to_rfc3339(),
            at.to_rfc3339()
        ),
        "REFUND" => format!(
            "R5: still APPROVED at {} past the deadline {} ({days} days after the {from}): refunded NOT_SHIPPED_IN_TIME",
            at.to_rfc3339(),
            deadline.to_rfc3339()
        ),
        _ => format!(
            "R5: at {} the deadline {} ({days} days after the {from}) had not passed: not refunded then",
            at.to_rfc3339(),
            deadline.to_rfc3339()
        ),
    };
    Judgement {
        outcome,
        explanation,
    }
}

/// R15–R18 on facts read back from history.
pub fn judge_cancellation(input: &CancellationInput, values: &PolicyValues) -> Judgement {
    let d = decide_cancellation(input, values);
    Judgement {
        outcome: d.outcome.as_str(),
        explanation: d.explanation,
    }
}

/// Why a recorded decision cannot be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unjudged {
    /// Stable code.
    pub reason: &'static str,
    pub message: &'static str,
}

/// Declares each [`Unjudged`] whose stable code is its own name, one a line: the codes are a
/// table, and spelling each out as a struct literal only repeated `reason` and `message`.
macro_rules! unjudged_reasons {
    ($($name:ident: $message:literal;)*) => {
        $(pub const $name: Unjudged = Unjudged { reason: stringify!($name), message: $message };)*
    };
}

unjudged_reasons! {
    FACTS_NOT_RECORDED: "the decision's record lacks an input of R15-R18 (carrier, cancellation time or canceller, initial release, merchant country)";
    TRACKING_UNKNOWN: "the cancelled tracking (or its link to the order) is no longer stored, so whether it had a confirmed date and was current is unknown";
    STATE_UNKNOWN: "the order's state before the decision was not recorded";
    RELEASE_UNKNOWN: "no release or re-release of the order is recorded before the decision, so its deadline is unknown";
    VERSION_UNKNOWN: "the policy version that made the decision (or fixed its deadline) is not recorded";
}

/// What history holds about one cancellation decision; `None` where it holds nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationFacts {
    pub decided_at: DateTime<Utc>,
    pub state_before: Option<String>,
    pub carrier: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub initial_released_at: Option<DateTime<Utc>>,
    pub merchant_country: Option<String>,
    /// Whether the tracking and the order's link to it were found.
    pub tracking_found: bool,
    /// The tracking's first real scan (R21), if any.
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    /// When the link stopped being the order's current tracking, if it did.
    pub link_replaced_at: Option<DateTime<Utc>>,
    /// R18: A+ membership at the decision. Only a re-release ever takes an order out of A+, so it
    /// is the order's membership now, or true when the recorded decision made it leave.
    pub is_advanced_logistics: bool,
}

/// The input the worker had, rebuilt from the facts; or why it cannot be.
pub fn cancellation_input(f: &CancellationFacts) -> Result<CancellationInput, Unjudged> {
    let (
        Some(carrier),
        Some(cancelled_at),
        Some(cancelled_by),
        Some(initial_released_at),
        Some(country),
    ) = (
        &f.carrier,
        f.cancelled_at,
        &f.cancelled_by,
        f.initial_released_at,
        &f.merchant_country,
    )
    else {
        return Err(FACTS_NOT_RECORDED);
    };
    let cancelled_by: CancelledBy = cancelled_by.parse().map_err(|_| FACTS_NOT_RECORDED)?;
    let state: OrderState = f
        .state_before
        .as_deref()
        .ok_or(STATE_UNKNOWN)?
        .parse()
        .map_err(|_| STATE_UNKNOWN)?;
    if !f.tracking_found {
        return Err(TRACKING_UNKNOWN);
    }
    Ok(CancellationInput {
        initial_released_at,
        state,
        carrier: carrier.clone(),
        // A scan that came after the decision was not known to it.
        has_confirmed_fulfillment: f
            .confirmed_fulfillment_at
            .is_some_and(|c| c <= f.decided_at),
        merchant_country: country.clone(),
        is_advanced_logistics: f.is_advanced_logistics,
        cancelled_at,
        cancelled_by,
        // A re-release retires the link at the decision moment itself; only a replacement
        // before the decision (R4) made the tracking not current.
        tracking_is_current: f.link_replaced_at.is_none_or(|r| r >= f.decided_at),
        re_released_at: f.decided_at,
    })
}

/// One decision judged under both sets of values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub rule: &'static str,
    pub order_id: String,
    pub merchant_id: String,
    pub decided_at: DateTime<Utc>,
    pub baseline_version: i32,
    /// The outcome history recorded.
    pub recorded: String,
    pub baseline: Judgement,
    pub candidate: Judgement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub order_id: String,
    pub merchant_id: String,
    pub decided_at: DateTime<Utc>,
    pub baseline_version: i32,
    pub baseline_explanation: String,
    pub candidate_explanation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerchantImpact {
    pub changed: u64,
    pub refund_to_rerelease: u64,
    pub newly_late: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transition {
    pub count: u64,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnjudgedCount {
    pub count: u64,
    pub message: &'static str,
    pub sample_order_ids: Vec<String>,
}

/// The answer of a simulation, built one decision at a time: memory grows with the number of
/// outcomes, transitions and merchants, never with the number of decisions.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub samples_per_transition: usize,
    pub decisions: u64,
    /// (rule, outcome) → (baseline, candidate).
    pub outcomes: BTreeMap<(&'static str, &'static str), (u64, u64)>,
    /// (rule, from, to) for the decisions whose outcome the candidate changes.
    pub transitions: BTreeMap<(&'static str, &'static str, &'static str), Transition>,
    pub merchants: HashMap<String, MerchantImpact>,
    pub unjudged: BTreeMap<(&'static str, &'static str), UnjudgedCount>,
    pub reproduced: u64,
    pub not_reproduced: u64,
    pub not_reproduced_samples: Vec<Sample>,
}

impl Tally {
    pub fn new(samples_per_transition: usize) -> Self {
        Self {
            samples_per_transition,
            ..Self::default()
        }
    }

    pub fn add(&mut self, r: Replayed) {
        self.decisions += 1;
        let keep = self.samples_per_transition;
        let sample = |r: &Replayed| Sample {
            order_id: r.order_id.clone(),
            merchant_id: r.merchant_id.clone(),
            decided_at: r.decided_at,
            baseline_version: r.baseline_version,
            baseline_explanation: r.baseline.explanation.clone(),
            candidate_explanation: r.candidate.explanation.clone(),
        };
        if r.baseline.outcome == r.recorded {
            self.reproduced += 1;
        } else {
            self.not_reproduced += 1;
            if self.not_reproduced_samples.len() < keep.max(1) {
                self.not_reproduced_samples.push(sample(&r));
            }
        }
        self.outcomes
            .entry((r.rule, r.baseline.outcome))
            .or_default()
            .0 += 1;
        self.outcomes
            .entry((r.rule, r.candidate.outcome))
            .or_default()
            .1 += 1;
        if r.baseline.outcome == r.candidate.outcome {
            return;
        }
        let t = self
            .transitions
            .entry((r.rule, r.baseline.outcome, r.candidate.outcome))
            .or_default();
        t.count += 1;
        if t.samples.len() < keep {
            t.samples.push(sample(&r));
        }
        let m = self.merchants.entry(r.merchant_id).or_default();
        m.changed += 1;
        match (r.rule, r.baseline.outcome, r.candidate.outcome) {
            (RULE_CANCELLATION, "REFUND", "RE_RELEASE") => m.refund_to_rerelease += 1,
            (RULE_LATE, "SHIPPED_ON_TIME", "SHIPPED_LATE")
            | (RULE_LATE, "NOT_YET_DUE", "REFUND") => m.newly_late += 1,
            _ => {}
        }
    }

    pub fn add_unjudged(&mut self, rule: &'static str, order_id: &str, why: Unjudged) {
        self.decisions += 1;
        let u = self.unjudged.entry((rule, why.reason)).or_default();
        u.count += 1;
        u.message = why.message;
        if u.sample_order_ids.len() < self.samples_per_transition.max(1) {
            u.sample_order_ids.push(order_id.to_owned());
        }
    }

    /// The `n` merchants with the most changed decisions (ties by id).
    pub fn top_merchants(&self, n: usize) -> Vec<(&str, &MerchantImpact)> {
        let mut all: Vec<_> = self
            .merchants
            .iter()
            .map(|(id, m)| (id.as_str(), m))
            .collect();
        all.sort_by(|a, b| b.1.changed.cmp(&a.1.changed).then(a.0.cmp(b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn facts(initial: DateTime<Utc>, cancelled: DateTime<Utc>) -> CancellationFacts {
        CancellationFacts {
            decided_at: cancelled + Duration::hours(1),
            state_before: Some("SHIPPED".into()),
            carrier: Some("wishpost".into()),
            cancelled_at: Some(cancelled),
            cancelled_by: Some("CARRIER".into()),
            initial_released_at: Some(initial),
            merchant_country: Some("CN".into()),
            tracking_found: true,
            confirmed_fulfillment_at: Some(initial + Duration::days(1)),
            link_replaced_at: None,
            is_advanced_logistics: false,
        }
    }

    #[test]
    fn r16_a_longer_rerelease_window_turns_a_refund_into_a_rerelease() {
        let f = facts(at(2022, 1, 1), at(2022, 1, 28)); // 27 calendar days
        let input = cancellation_input(&f).unwrap();
        let current = PolicyValues::default();
        let wider = PolicyValues {
            rerelease_window_days: 30,
            ..current.clone()
        };
        assert_eq!(judge_cancellation(&input, &current).outcome, "REFUND");
        assert_eq!(judge_cancellation(&input, &wider).outcome, "RE_RELEASE");
    }

    #[test]
    fn r15_history_without_a_fact_is_not_judged() {
        let mut f = facts(at(2022, 1, 1), at(2022, 1, 5));
        f.merchant_country = None;
        assert_eq!(cancellation_input(&f), Err(FACTS_NOT_RECORDED));
        let mut f = facts(at(2022, 1, 1), at(2022, 1, 5));
        f.tracking_found = false;
        assert_eq!(cancellation_input(&f), Err(TRACKING_UNKNOWN));
        let mut f = facts(at(2022, 1, 1), at(2022, 1, 5));
        f.state_before = None;
        assert_eq!(cancellation_input(&f), Err(STATE_UNKNOWN));
        f.state_before = Some("LOST".into());
        assert_eq!(cancellation_input(&f), Err(STATE_UNKNOWN));
    }

    #[test]
    fn r15_r4_facts_are_read_as_of_the_decision() {
        let mut f = facts(at(2022, 1, 1), at(2022, 1, 5));
        // Scanned only after the decision: the decision did not know a confirmed date.
        f.confirmed_fulfillment_at = Some(f.decided_at + Duration::seconds(1));
        assert!(!cancellation_input(&f).unwrap().has_confirmed_fulfillment);
        // Retired by the re-release itself (same instant): still current at the decision.
        f.link_replaced_at = Some(f.decided_at);
        assert!(cancellation_input(&f).unwrap().tracking_is_current);
        f.link_replaced_at = Some(f.decided_at - Duration::seconds(1));
        assert!(!cancellation_input(&f).unwrap().tracking_is_current);
    }

    #[test]
    fn r5_a_shorter_window_makes_a_shipment_late_and_a_longer_one_defers_a_refund() {
        let release = Release::Initial(at(2022, 1, 1));
        let five = PolicyValues::default();
        let four = PolicyValues {
            fulfillment_window_days: 4,
            ..five.clone()
        };
        let seven = PolicyValues {
            fulfillment_window_days: 7,
            ..five.clone()
        };
        let shipped = at(2022, 1, 5) + Duration::hours(12);
        let refunded = at(2022, 1, 6) + Duration::minutes(5);
        for (decision, when, values, want) in [
            (LateDecision::Shipment, shipped, &five, "SHIPPED_ON_TIME"),
            (LateDecision::Shipment, shipped, &four, "SHIPPED_LATE"),
            (LateDecision::Refund, refunded, &five, "REFUND"),
            (LateDecision::Refund, refunded, &seven, "NOT_YET_DUE"),
        ] {
            let days = values.fulfillment_window_days;
            assert_eq!(
                judge_late(decision, release, when, values).outcome,
                want,
                "{decision:?} at {when} with a {days}-day window"
            );
        }
        // R16: a re-released order counts its re-release deadline, not the fulfilment window.
        let re = Release::ReRelease(at(2022, 2, 1));
        assert_eq!(deadline_after(re, &seven), at(2022, 2, 6));
    }

    #[test]
    fn r30_the_tally_counts_outcomes_transitions_merchants_and_the_honesty_check() {
        let mut tally = Tally::new(1);
        let j = |outcome| Judgement {
            outcome,
            explanation: outcome.to_owned(),
        };
        for (i, (recorded, base, cand)) in [
            ("REFUND", "REFUND", "RE_RELEASE"),
            ("REFUND", "REFUND", "RE_RELEASE"),
            ("RE_RELEASE", "RE_RELEASE", "RE_RELEASE"),
            ("FLAG_ONLY", "REFUND", "REFUND"),
        ]
        .into_iter()
        .enumerate()
        {
            tally.add(Replayed {
                rule: RULE_CANCELLATION,
                order_id: format!("o-{i}"),
                merchant_id: if i == 0 { "m-a" } else { "m-b" }.into(),
                decided_at: at(2022, 1, 1),
                baseline_version: 1,
                recorded: recorded.into(),
                baseline: j(base),
                candidate: j(cand),
            });
        }
        tally.add_unjudged(RULE_CANCELLATION, "o-x", TRACKING_UNKNOWN);
        assert_eq!(tally.decisions, 5);
        assert_eq!((tally.reproduced, tally.not_reproduced), (3, 1));
        assert_eq!(tally.not_reproduced_samples[0].order_id, "o-3");
        let t = &tally.transitions[&(RULE_CANCELLATION, "REFUND", "RE_RELEASE")];
        assert_eq!((t.count, t.samples.len()), (2, 1));
        assert_eq!(tally.outcomes[&(RULE_CANCELLATION, "REFUND")], (3, 1));
        assert_eq!(tally.outcomes[&(RULE_CANCELLATION, "RE_RELEASE")], (1, 3));
        let top = tally.top_merchants(5);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].1.refund_to_rerelease, 1);
        assert_eq!(
            tally.unjudged[&(RULE_CANCELLATION, "TRACKING_UNKNOWN")].count,
            1
        );
    }
}
