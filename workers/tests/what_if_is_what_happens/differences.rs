//! Every way what the workers wrote differs from the what-if's answer: the order's fields, its
//! link, and the decision's audit rows with their inputs.

use chrono::{DateTime, Utc};
use fulfillment_core::models::{Order, OrderEvent};
use fulfillment_policy::cancellation::{CancellationDecision, CancellationOutcome};

use crate::Prediction;
use crate::cases::Case;

/// The audit rows of a cancellation decision: the detector's, and the decider's.
const DECISION_KINDS: [&str; 6] = [
    "tracking_cancelled",
    "tracking_cancelled_not_applicable",
    "re_released",
    "refunded",
    "cancellation_flag_only",
    "cancellation_not_applicable",
];

/// The differences found so far, one line each.
struct Diffs(Vec<String>);

impl Diffs {
    fn eq(&mut self, what: &str, predicted: String, written: String) {
        if predicted != written {
            self.0.push(format!(
                "{what}: what-if {predicted}, workers wrote {written}"
            ));
        }
    }
}

/// Every way what the workers wrote differs from `p`, the what-if's answer.
pub fn differences(
    p: &Prediction,
    case: &Case,
    before: &Order,
    after: &Order,
    link: &(Option<String>, bool),
    events: &[OrderEvent],
) -> Vec<String> {
    let mut out = Diffs(Vec::new());
    link_and_state(&mut out, &p.decision, case, after, link);
    order_fields(&mut out, &p.decision, before, after);
    audit_rows(&mut out, p, events);
    out.0
}

/// The link's outcome and confirmed date, the order's state and cancelled flag.
fn link_and_state(
    out: &mut Diffs,
    d: &CancellationDecision,
    case: &Case,
    after: &Order,
    link: &(Option<String>, bool),
) {
    out.eq(
        "link cancellation_outcome",
        format!("{:?}", Some(d.outcome.as_str())),
        format!("{:?}", link.0.as_deref()),
    );
    out.eq(
        "confirmed date removed",
        d.remove_confirmed_date.to_string(),
        link.1.to_string(),
    );
    let state = match d.outcome {
        CancellationOutcome::ReRelease => "APPROVED",
        CancellationOutcome::Refund => "REFUNDED",
        CancellationOutcome::FlagOnly | CancellationOutcome::NotApplicable => "SHIPPED",
    };
    out.eq("state", state.into(), after.state.clone());
    out.eq(
        "tracking_number_cancelled",
        d.set_cancelled_flag.to_string(),
        after.tracking_number_cancelled.to_string(),
    );
    out.eq(
        "tracking_number_cancelled_date",
        format!("{:?}", d.set_cancelled_flag.then_some(case.cancelled)),
        format!("{:?}", after.tracking_number_cancelled_date),
    );
}

/// The re-release's dates, the flags, A+ and the address shipped to, the refund reason.
fn order_fields(out: &mut Diffs, d: &CancellationDecision, before: &Order, after: &Order) {
    let re_released = d.outcome == CancellationOutcome::ReRelease;
    out.eq(
        "is_re_released",
        re_released.to_string(),
        after.is_re_released.to_string(),
    );
    out.eq(
        "order_re_released_date",
        format!("{:?}", d.re_released_at),
        format!("{:?}", after.order_re_released_date),
    );
    out.eq(
        "released_at",
        format!("{:?}", d.re_released_at.unwrap_or(before.released_at)),
        format!("{:?}", after.released_at),
    );
    out.eq(
        "fulfillment_deadline",
        format!(
            "{:?}",
            d.new_deadline.unwrap_or(before.fulfillment_deadline)
        ),
        format!("{:?}", after.fulfillment_deadline),
    );
    let mut flags = before.flags.clone();
    flags.extend(d.flags.iter().map(|f| f.as_str().to_owned()));
    flags.sort();
    flags.dedup();
    out.eq("flags", format!("{flags:?}"), format!("{:?}", after.flags));
    out.eq(
        "is_advanced_logistics",
        (before.is_advanced_logistics && !d.leave_aplus_program).to_string(),
        after.is_advanced_logistics.to_string(),
    );
    let ship_to = if d.reset_shipping_to_customer {
        before.customer_shipping_detail()
    } else {
        before.shipping_detail()
    };
    out.eq(
        "shipping_detail",
        format!("{ship_to:?}"),
        format!("{:?}", after.shipping_detail()),
    );
    out.eq(
        "refund_reason",
        format!("{:?}", d.refund_reason),
        format!("{:?}", after.refund_reason.as_deref()),
    );
}

/// The audit rows of the decision: the detector's, and the decider's unless it ended there.
fn audit_rows(out: &mut Diffs, p: &Prediction, events: &[OrderEvent]) {
    let d = &p.decision;
    let rows: Vec<&OrderEvent> = events
        .iter()
        .filter(|e| DECISION_KINDS.contains(&e.kind.as_str()))
        .collect();
    let expected_kinds: Vec<&str> = match d.outcome {
        CancellationOutcome::NotApplicable => vec!["tracking_cancelled_not_applicable"],
        CancellationOutcome::FlagOnly => vec!["tracking_cancelled", "cancellation_flag_only"],
        CancellationOutcome::ReRelease => vec!["tracking_cancelled", "re_released"],
        CancellationOutcome::Refund => vec!["tracking_cancelled", "refunded"],
    };
    out.eq(
        "audit rows",
        format!("{expected_kinds:?}"),
        format!(
            "{:?}",
            rows.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>()
        ),
    );
    for row in rows {
        audit_row(out, p, row);
    }
}

/// One decision audit row's inputs: the policy version, outcome, explanation and numbers.
fn audit_row(out: &mut Diffs, p: &Prediction, row: &OrderEvent) {
    let d = &p.decision;
    let k = &row.kind;
    out.eq(
        &format!("audit {k} policy_version"),
        format!("{:?}", Some(p.policy_version)),
        format!("{:?}", row.policy_version),
    );
    out.eq(
        &format!("audit {k} outcome"),
        format!("{:?}", d.outcome.as_str()),
        row.details["outcome"].to_string(),
    );
    out.eq(
        &format!("audit {k} explanation"),
        serde_json::json!(d.explanation).to_string(),
        row.details["explanation"].to_string(),
    );
    out.eq(
        &format!("audit {k} days_since_initial_release"),
        d.days_since_initial_release.to_string(),
        row.details["days_since_initial_release"].to_string(),
    );
    out.eq(
        &format!("audit {k} threshold_days"),
        d.threshold_days.to_string(),
        row.details["threshold_days"].to_string(),
    );
    if k == "re_released" {
        let written: Option<DateTime<Utc>> =
            serde_json::from_value(row.details["new_deadline"].clone()).ok();
        out.eq(
            "audit re_released new_deadline",
            format!("{:?}", d.new_deadline),
            format!("{written:?}"),
        );
        out.eq(
            "audit re_released left_aplus_program",
            d.leave_aplus_program.to_string(),
            row.details["left_aplus_program"].to_string(),
        );
    }
}
