//! Policy what-ifs on stored orders: EvaluateOrder and DecideCancellation (R2, R5, R6, R15-R18).

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::{ServiceError, ServiceResult, repo};
use fulfillment_policy::cancellation::{
    CancellationDecision, CancellationInput, CancelledBy, decide_cancellation,
};
use fulfillment_policy::deadline::is_overdue;
use fulfillment_policy::values::Policy;

use crate::queries::get_order;
use crate::view::OrderView;

pub struct Evaluation {
    pub view: OrderView,
    pub policy_version: i32,
    /// Still APPROVED after the deadline: the deadline worker will refund it (R5).
    pub overdue: bool,
    pub cancellation_if_now: CancellationDecision,
}

pub fn evaluate_order(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    merchant_id: &str,
    order_id: &str,
) -> ServiceResult<Evaluation> {
    let view = get_order(conn, now, merchant_id, order_id)?;
    let country = merchant_country(conn, merchant_id)?;
    // A carrier cancellation now, decided (and re-released) now: what the workers would write.
    let cancellation_if_now = decide_cancellation(
        &cancellation_input(&view, &country, now, CancelledBy::Carrier, now),
        &policy.values,
    );
    Ok(Evaluation {
        overdue: is_overdue(view.state(), view.order.fulfillment_deadline, now),
        policy_version: policy.version,
        view,
        cancellation_if_now,
    })
}

/// What a cancellation of the order's current tracking at `at` by `by`, decided at
/// `re_released_at` (R16: the re-release moment the what-if assumes), would lead to: the very
/// call `re-release-decider` makes when its clock reads `re_released_at`.
#[allow(clippy::too_many_arguments)]
pub fn what_if_cancelled(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    merchant_id: &str,
    order_id: &str,
    at: DateTime<Utc>,
    by: CancelledBy,
    re_released_at: DateTime<Utc>,
) -> ServiceResult<CancellationDecision> {
    let view = get_order(conn, now, merchant_id, order_id)?;
    let country = merchant_country(conn, merchant_id)?;
    Ok(decide_cancellation(
        &cancellation_input(&view, &country, at, by, re_released_at),
        &policy.values,
    ))
}

fn merchant_country(conn: &mut PgConnection, merchant_id: &str) -> ServiceResult<String> {
    repo::merchants::find(conn, merchant_id)?
        .map(|m| m.country)
        .ok_or_else(|| ServiceError::not_found("merchant", merchant_id))
}

fn cancellation_input(
    view: &OrderView,
    merchant_country: &str,
    at: DateTime<Utc>,
    by: CancelledBy,
    re_released_at: DateTime<Utc>,
) -> CancellationInput {
    let current = view.current.as_ref();
    CancellationInput {
        initial_released_at: view.order.initial_released_at,
        state: view.state(),
        carrier: current
            .map(|l| l.tracking.carrier.clone())
            .unwrap_or_default(),
        // R15: the tracking's first scan, as the workers read it. Not the per-order view
        // (`TrackingLink::confirmed_fulfillment_at`), which hides a date once the detector has
        // removed it: asked between the detector and the decider, the what-if would then answer
        // NOT_APPLICABLE for the very cancellation the decider re-releases or refunds.
        has_confirmed_fulfillment: current
            .and_then(|l| l.tracking.confirmed_fulfillment_at)
            .is_some(),
        merchant_country: merchant_country.to_owned(),
        is_advanced_logistics: view.order.is_advanced_logistics,
        cancelled_at: at,
        cancelled_by: by,
        // The what-if asks about the order's current tracking.
        tracking_is_current: true,
        re_released_at,
    }
}
