//! `cancellation-detector` (R15) and `re-release-decider` (R16–R18): both call
//! [`decide_cancellation`] on the claimed links, with the step's clock as the decision (and
//! re-release) moment, and write its answer verbatim: the same function, on the same facts, that
//! `PolicyService/DecideCancellation` and `EvaluateOrder` answer with.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::{NewOrderEvent, NewOutboxEvent};
use fulfillment_core::repo::reconcile::{
    self as repo, CancellationQueue, CancelledLink, Detection, LinkDecision, ReRelease,
};
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::cancellation::{
    CancellationDecision, CancellationInput, CancellationOutcome, decide_cancellation,
};
use fulfillment_policy::order_state::OrderState;
use serde_json::json;

use super::{Batch, BatchScope, Step, outbox_row};

/// The decision on one claimed link at the scope's `now` (also the re-release moment).
fn decide(link: &CancelledLink, scope: &BatchScope<'_>) -> ServiceResult<CancellationDecision> {
    let state: OrderState = link.state.parse().map_err(ServiceError::internal)?;
    let cancelled_by = link.cancelled_by.parse().map_err(ServiceError::internal)?;
    Ok(decide_cancellation(
        &CancellationInput {
            initial_released_at: link.initial_released_at,
            state,
            carrier: link.carrier.clone(),
            has_confirmed_fulfillment: link.confirmed_fulfillment_at.is_some(),
            merchant_country: link.merchant_country.clone(),
            is_advanced_logistics: link.is_advanced_logistics,
            cancelled_at: link.cancelled_at,
            cancelled_by,
            tracking_is_current: link.is_current,
            re_released_at: scope.now,
        },
        &scope.policy.values,
    ))
}

/// The decision's inputs, stored with it so an operator can see why (R16).
fn inputs(link: &CancelledLink, decision: &CancellationDecision) -> serde_json::Value {
    json!({
        "carrier": link.carrier,
        "tracking_number": link.tracking_number,
        "cancelled_at": link.cancelled_at,
        "cancelled_by": link.cancelled_by,
        "initial_released_at": link.initial_released_at,
        "merchant_country": link.merchant_country,
        "days_since_initial_release": decision.days_since_initial_release,
        "threshold_days": decision.threshold_days,
        "outcome": decision.outcome.as_str(),
        "explanation": decision.explanation,
    })
}

/// The audit row of a decision on `link`, made at the scope's moment under its policy.
fn audit_row<'a>(
    scope: &BatchScope<'a>,
    link: &'a CancelledLink,
    kind: &'a str,
    state_after: &'a str,
    details: serde_json::Value,
) -> NewOrderEvent<'a> {
    NewOrderEvent {
        order_id: &link.order_id,
        merchant_id: &link.merchant_id,
        actor: &scope.actor.0,
        kind,
        state_before: Some(&link.state),
        state_after,
        policy_version: Some(scope.policy.version),
        details,
        occurred_at: scope.now,
    }
}

/// Claims the next links of `queue` after the scope's last key, with the batch that counts
/// them. The detector's queue is walked by tracking (see `CancellationQueue::Detect`), so its
/// last key is a tracking id; the others are walked by link.
pub(super) fn claim(
    conn: &mut PgConnection,
    queue: CancellationQueue,
    scope: &BatchScope<'_>,
) -> ServiceResult<(Vec<CancelledLink>, Batch)> {
    let links = repo::claim_cancelled(conn, queue, scope.after, scope.limit)?;
    let last_key = links.last().map_or(scope.after, |l| match queue {
        CancellationQueue::Detect => l.tracking_id,
        CancellationQueue::Decide | CancellationQueue::AplusReset => l.link_id,
    });
    let batch = Batch::claimed(links.len(), last_key);
    Ok((links, batch))
}

/// R16's re-release of one link: the order's new deadline and flags, the address it now ships
/// to when it leaves A+, and the `order.re_released` event; `details` gains what the audit row
/// records of it.
fn re_release<'a>(
    link: &'a CancelledLink,
    decision: &CancellationDecision,
    now: DateTime<Utc>,
    details: &mut serde_json::Value,
) -> ServiceResult<(ReRelease, NewOutboxEvent<'a>)> {
    let (Some(re_released_at), Some(new_deadline)) =
        (decision.re_released_at, decision.new_deadline)
    else {
        return Err(ServiceError::internal(
            "a re-release decision without its moment and deadline",
        ));
    };
    let leaves = decision.reset_shipping_to_customer;
    let to = link.customer_shipping_detail();
    let mut payload = json!({
        "order_id": link.order_id,
        "cancelled_tracking_number": link.tracking_number,
        "new_deadline": new_deadline,
        "left_aplus_program": decision.leave_aplus_program,
    });
    if leaves {
        details["shipping_detail_before"] = json!(link.shipping_detail());
        details["shipping_detail_after"] = json!(to);
        payload["ship_to_country"] = json!(to.country);
    }
    details["flags"] = json!(
        decision
            .flags
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
    );
    details["new_deadline"] = json!(new_deadline);
    details["left_aplus_program"] = json!(decision.leave_aplus_program);
    let re_release = ReRelease {
        order_id: link.order_id.clone(),
        re_released_at,
        new_deadline,
        flags: decision
            .flags
            .iter()
            .map(|f| f.as_str().to_owned())
            .collect(),
        leave_aplus_to: leaves.then_some(to),
    };
    let event = outbox_row(
        now,
        "order.re_released",
        &format!("{}:{}", link.order_id, link.link_id),
        &link.merchant_id,
        Some(&link.order_id),
        payload,
    );
    Ok((re_release, event))
}

/// `cancellation-detector` (R15): the cancellation reaches the order: flag and date set, the
/// confirmed fulfilment date removed for orders released on or after the policy's date. Links
/// the rules do not touch are decided `NOT_APPLICABLE` here, so the decider never sees them.
pub struct CancellationDetector;

impl Step for CancellationDetector {
    const NAME: &'static str = "cancellation-detector";

    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch> {
        let (links, mut batch) = claim(conn, CancellationQueue::Detect, scope)?;
        let mut detections = Vec::with_capacity(links.len());
        let mut events = Vec::with_capacity(links.len());
        for link in &links {
            let decision = decide(link, scope)?;
            let not_applicable = decision.outcome == CancellationOutcome::NotApplicable;
            detections.push(Detection {
                link_id: link.link_id,
                order_id: link.order_id.clone(),
                flag_cancelled_at: decision.set_cancelled_flag.then_some(link.cancelled_at),
                remove_confirmed_date: decision.remove_confirmed_date,
                final_outcome: not_applicable.then_some(decision.outcome.as_str()),
            });
            let kind = if decision.set_cancelled_flag {
                batch.count("flagged");
                "tracking_cancelled"
            } else {
                batch.count("not_applicable");
                "tracking_cancelled_not_applicable"
            };
            if decision.remove_confirmed_date {
                batch.count("confirmed_removed");
            }
            let mut details = inputs(link, &decision);
            details["rule"] = json!("R15");
            details["confirmed_removed"] = json!(decision.remove_confirmed_date);
            batch.decisions.push(format!(
                "order {}: {kind} ({})",
                link.order_id, decision.explanation
            ));
            events.push(audit_row(scope, link, kind, &link.state, details));
        }
        repo::write_detections(conn, &detections, scope.now)?;
        let mut trackings: Vec<i64> = links.iter().map(|l| l.tracking_id).collect();
        trackings.dedup();
        repo::mark_trackings_detected(conn, &trackings, scope.now)?;
        repo::record_events(conn, &events)?;
        Ok(batch)
    }
}

/// `re-release-decider` (R16–R18): re-release or refund each detected cancellation as the policy
/// decides. A re-released A+ order the partner carrier cancelled leaves the program with the
/// customer's address in the same row write as its re-release (no moment in which it could be
/// shipped to the warehouse). Merchants outside the re-release regions or dates are decided
/// `FLAG_ONLY` (they repair the order with modify-tracking), never skipped.
pub struct ReReleaseDecider;

impl Step for ReReleaseDecider {
    const NAME: &'static str = "re-release-decider";

    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch> {
        let (links, mut batch) = claim(conn, CancellationQueue::Decide, scope)?;
        let mut re_releases = Vec::new();
        let mut refunds = Vec::new();
        let mut link_decisions = Vec::with_capacity(links.len());
        let mut events = Vec::with_capacity(links.len());
        let mut outbox = Vec::new();
        for link in &links {
            let decision = decide(link, scope)?;
            let mut details = inputs(link, &decision);
            details["rule"] = json!("R16");
            let (kind, state_after) = match decision.outcome {
                CancellationOutcome::ReRelease => {
                    let (re_release, event) = re_release(link, &decision, scope.now, &mut details)?;
                    re_releases.push(re_release);
                    outbox.push(event);
                    ("re_released", OrderState::Approved.as_str())
                }
                CancellationOutcome::Refund => {
                    let reason = decision.refund_reason.ok_or_else(|| {
                        ServiceError::internal("a refund decision without its reason")
                    })?;
                    refunds.push((link.order_id.clone(), reason));
                    outbox.push(outbox_row(
                        scope.now,
                        "refund.requested",
                        &link.order_id,
                        &link.merchant_id,
                        Some(&link.order_id),
                        json!({ "order_id": link.order_id, "reason": reason }),
                    ));
                    ("refunded", OrderState::Refunded.as_str())
                }
                CancellationOutcome::FlagOnly => ("cancellation_flag_only", link.state.as_str()),
                CancellationOutcome::NotApplicable => {
                    ("cancellation_not_applicable", link.state.as_str())
                }
            };
            let re_released = decision.outcome == CancellationOutcome::ReRelease;
            link_decisions.push(LinkDecision {
                link_id: link.link_id,
                outcome: decision.outcome.as_str(),
                retire: re_released,
                aplus_leaves: re_released.then_some(decision.leave_aplus_program),
            });
            batch.count(&decision.outcome.as_str().to_ascii_lowercase());
            if decision.leave_aplus_program {
                batch.count("left_aplus_program");
            }
            batch.decisions.push(format!(
                "order {}: {} ({})",
                link.order_id,
                decision.outcome.as_str(),
                decision.explanation
            ));
            events.push(audit_row(scope, link, kind, state_after, details));
        }
        repo::write_re_releases(conn, &re_releases, scope.now)?;
        repo::write_refunds(conn, &refunds, scope.now)?;
        repo::write_link_decisions(conn, &link_decisions, scope.now)?;
        repo::record_events(conn, &events)?;
        repo::enqueue_events(conn, &outbox)?;
        Ok(batch)
    }
}
