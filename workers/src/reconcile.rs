//! The reconciliation workers (R5, R9, R15–R18). Each is a [`Step`]: claim a batch of work with
//! `FOR UPDATE SKIP LOCKED`, decide each item with `fulfillment-policy`, and write the new state,
//! its `order_events` row and its outbox rows in the batch's one transaction. A step's queue is
//! defined by a column the step itself sets, so a crashed batch leaves its items queued (its
//! transaction rolled back) and a finished one never sees them again: nothing lost, nothing
//! repeated, however many copies run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text, Timestamptz};
use fulfillment_core::models::{Address, NewOrderEvent, NewOutboxEvent};
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock, repo};
use fulfillment_orders::{Actor, PolicyStore};
use fulfillment_policy::cancellation::{
    CancellationDecision, CancellationInput, CancellationOutcome, CancelledBy, OrderFlag,
    decide_cancellation,
};
use fulfillment_policy::deadline::{is_late, rerelease_deadline};
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::values::Policy;
use serde_json::json;

/// One worker's decision loop over a batch.
pub trait Step: Send + Sync + 'static {
    /// The binary's name, also the audit actor (`worker:<name>`).
    const NAME: &'static str;

    /// Claims up to `limit` items and applies them; returns what was done, one line per
    /// decision for `--dry-run` and logs. `after` is the `last_key` of the run's previous batch:
    /// steps walking a queue in key order start there instead of from the beginning.
    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        policy: &Policy,
        actor: &Actor,
        limit: i64,
        after: i64,
    ) -> ServiceResult<Batch>;
}

/// What one batch did.
#[derive(Debug, Default)]
pub struct Batch {
    pub claimed: usize,
    pub counts: BTreeMap<String, i64>,
    pub decisions: Vec<String>,
    /// The highest key claimed (0 for steps that do not walk a queue in key order).
    pub last_key: i64,
}

impl Batch {
    fn count(&mut self, what: &str) {
        *self.counts.entry(what.to_owned()).or_default() += 1;
    }
}

/// A run's totals.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub worker: &'static str,
    pub claimed: i64,
    pub counts: BTreeMap<String, i64>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: claimed={}", self.worker, self.claimed)?;
        for (what, n) in &self.counts {
            write!(f, " {what}={n}")?;
        }
        Ok(())
    }
}

impl crate::runs::RunCounts for Summary {
    fn counts(&self) -> BTreeMap<String, i64> {
        let mut counts = self.counts.clone();
        counts.insert("claimed".to_owned(), self.claimed);
        counts
    }
}

/// Rolls a dry run's transaction back, carrying what it would have done.
#[derive(Debug)]
struct DryRun(Summary, Vec<String>);

/// Runs `S` until its queue is empty. A dry run does the same work in one transaction that is
/// rolled back, and returns the decision lines.
pub async fn run<S: Step>(
    db: &Db,
    clock: &SharedClock,
    policies: &std::sync::Arc<PolicyStore>,
    batch_size: i64,
    dry_run: bool,
) -> ServiceResult<(Summary, Vec<String>)> {
    let actor = Actor(format!("worker:{}", S::NAME));
    let limit = batch_size.clamp(1, 10_000);
    if dry_run {
        let (clock, policies) = (clock.clone(), policies.clone());
        let outcome = db
            .run(move |conn| {
                let result: Result<(), DryRunOrError> = conn.transaction(|conn| {
                    let now = clock.now();
                    let policy = policies.at(conn, now)?;
                    let mut summary = summary_of::<S>();
                    let mut lines = Vec::new();
                    let mut after = 0;
                    loop {
                        let batch = S::batch(conn, now, &policy, &actor, limit, after)?;
                        if batch.claimed == 0 {
                            break;
                        }
                        after = after.max(batch.last_key);
                        add(&mut summary, &batch);
                        lines.extend(batch.decisions);
                    }
                    Err(DryRunOrError::DryRun(DryRun(summary, lines)))
                });
                match result {
                    Err(DryRunOrError::DryRun(DryRun(summary, lines))) => Ok((summary, lines)),
                    Err(DryRunOrError::Error(e)) => Err(e),
                    Ok(()) => Err(ServiceError::internal("a dry run committed")),
                }
            })
            .await?;
        return Ok(outcome);
    }
    let mut summary = summary_of::<S>();
    let mut batches = 0u64;
    // Each batch starts after the last key of the previous one: a queue walked in key order is
    // then read once per run, not once per batch. A row skipped because another copy or an API
    // call held it is left to that copy, or to the next run.
    let mut after = 0;
    loop {
        let (clock, policies, actor) = (clock.clone(), policies.clone(), actor.clone());
        let batch = db
            .transaction(move |conn| {
                let now = clock.now();
                let policy = policies.at(conn, now)?;
                S::batch(conn, now, &policy, &actor, limit, after)
            })
            .await?;
        if batch.claimed == 0 {
            break;
        }
        after = after.max(batch.last_key);
        batches += 1;
        add(&mut summary, &batch);
        for line in &batch.decisions {
            tracing::debug!(worker = S::NAME, "{line}");
        }
        if batches.is_multiple_of(10) {
            tracing::info!(
                worker = S::NAME,
                batches,
                claimed = summary.claimed,
                "progress"
            );
        }
    }
    Ok((summary, Vec::new()))
}

enum DryRunOrError {
    DryRun(DryRun),
    Error(ServiceError),
}

impl From<ServiceError> for DryRunOrError {
    fn from(e: ServiceError) -> Self {
        Self::Error(e)
    }
}

impl From<diesel::result::Error> for DryRunOrError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Error(e.into())
    }
}

fn summary_of<S: Step>() -> Summary {
    Summary {
        worker: S::NAME,
        ..Summary::default()
    }
}

fn add(summary: &mut Summary, batch: &Batch) {
    summary.claimed += i64::try_from(batch.claimed).unwrap_or(i64::MAX);
    for (what, n) in &batch.counts {
        *summary.counts.entry(what.clone()).or_default() += n;
    }
}

/// An order and the tracking link a cancellation step works on.
#[derive(Debug, Clone, QueryableByName)]
struct CancelledLink {
    #[diesel(sql_type = BigInt)]
    link_id: i64,
    #[diesel(sql_type = Bool)]
    is_current: bool,
    #[diesel(sql_type = Text)]
    order_id: String,
    #[diesel(sql_type = Text)]
    merchant_id: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Timestamptz)]
    initial_released_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    is_advanced_logistics: bool,
    #[diesel(sql_type = Text)]
    merchant_country: String,
    #[diesel(sql_type = Text)]
    carrier: String,
    #[diesel(sql_type = Text)]
    tracking_number: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    confirmed_fulfillment_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    cancelled_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    cancelled_by: Option<String>,
}

/// Claims cancelled links matching `queue` (a condition on `ot`, `o`, `t`), locking the link
/// and its order; the API's ship path locks orders too, so neither sees the other half-done.
fn claim_cancelled(
    conn: &mut PgConnection,
    queue: &str,
    limit: i64,
    after: i64,
) -> QueryResult<Vec<CancelledLink>> {
    diesel::sql_query(format!(
        "SELECT ot.id AS link_id, ot.is_current, o.id AS order_id, o.merchant_id, o.state,
                o.initial_released_at, o.is_advanced_logistics, m.country AS merchant_country,
                t.carrier, t.tracking_number, t.confirmed_fulfillment_at, t.cancelled_at,
                t.cancelled_by
         FROM order_trackings ot
         JOIN trackings t ON t.id = ot.tracking_id
         JOIN orders o ON o.id = ot.order_id
         JOIN merchants m ON m.id = o.merchant_id
         WHERE t.cancelled_at IS NOT NULL AND {queue} AND ot.id > $2
         ORDER BY ot.id
         LIMIT $1
         FOR UPDATE OF ot, o SKIP LOCKED"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(after)
    .load(conn)
}

fn decision_for(link: &CancelledLink, state: OrderState, policy: &Policy) -> CancellationDecision {
    decide_cancellation(
        &CancellationInput {
            initial_released_at: link.initial_released_at,
            state,
            carrier: link.carrier.clone(),
            has_confirmed_fulfillment: link.confirmed_fulfillment_at.is_some(),
            merchant_country: link.merchant_country.clone(),
            is_advanced_logistics: link.is_advanced_logistics,
            cancelled_at: link.cancelled_at,
            cancelled_by: cancelled_by(link),
        },
        &policy.values,
    )
}

fn cancelled_by(link: &CancelledLink) -> CancelledBy {
    match link.cancelled_by.as_deref() {
        Some("MERCHANT") => CancelledBy::Merchant,
        _ => CancelledBy::Carrier,
    }
}

/// The decision's inputs, stored with it so an operator can see why (R16).
fn inputs(link: &CancelledLink, decision: &CancellationDecision) -> serde_json::Value {
    json!({
        "carrier": link.carrier,
        "tracking_number": link.tracking_number,
        "cancelled_at": link.cancelled_at,
        "cancelled_by": cancelled_by(link).as_str(),
        "initial_released_at": link.initial_released_at,
        "merchant_country": link.merchant_country,
        "days_since_initial_release": decision.days_since_initial_release,
        "threshold_days": decision.threshold_days,
        "outcome": decision.outcome.as_str(),
        "explanation": decision.explanation,
    })
}

#[allow(clippy::too_many_arguments)]
fn audit(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    link: &CancelledLink,
    kind: &str,
    state_after: &str,
    details: serde_json::Value,
) -> QueryResult<i64> {
    repo::audit::record_event(
        conn,
        &NewOrderEvent {
            order_id: &link.order_id,
            merchant_id: &link.merchant_id,
            actor: &actor.0,
            kind,
            state_before: Some(&link.state),
            state_after,
            policy_version: Some(policy.version),
            details,
            occurred_at: now,
        },
    )
}

fn enqueue(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    event_type: &str,
    key: &str,
    merchant_id: &str,
    order_id: Option<&str>,
    payload: serde_json::Value,
) -> QueryResult<usize> {
    repo::audit::enqueue(
        conn,
        &NewOutboxEvent {
            // Stable: derived from what caused it, so a repeated cause asks once.
            event_id: format!("{event_type}:{key}"),
            event_type,
            merchant_id,
            order_id,
            payload,
            created_at: now,
        },
    )
}

fn set_link(
    conn: &mut PgConnection,
    link_id: i64,
    set: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::sql_query(format!("UPDATE order_trackings SET {set} WHERE id = $1"))
        .bind::<BigInt, _>(link_id)
        .bind::<Timestamptz, _>(now)
        .execute(conn)
}

/// `cancellation-detector` (R15): the cancellation reaches the order: flag and date set, the
/// confirmed fulfilment date removed for orders released on or after the policy's date, who
/// cancelled recorded. Orders the rules do not touch are decided `NOT_APPLICABLE` here.
pub struct CancellationDetector;

impl Step for CancellationDetector {
    const NAME: &'static str = "cancellation-detector";

    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        policy: &Policy,
        actor: &Actor,
        limit: i64,
        after: i64,
    ) -> ServiceResult<Batch> {
        let links = claim_cancelled(
            conn,
            "ot.is_current AND ot.cancellation_detected_at IS NULL",
            limit,
            after,
        )?;
        let mut batch = Batch {
            claimed: links.len(),
            last_key: links.last().map_or(after, |l| l.link_id),
            ..Batch::default()
        };
        for link in links {
            let state: OrderState = link.state.parse().map_err(ServiceError::internal)?;
            let decision = decision_for(&link, state, policy);
            if decision.set_cancelled_flag {
                diesel::sql_query(
                    "UPDATE orders SET tracking_number_cancelled = true,
                         tracking_number_cancelled_date = $2, updated_at = $3 WHERE id = $1",
                )
                .bind::<Text, _>(&link.order_id)
                .bind::<Timestamptz, _>(link.cancelled_at)
                .bind::<Timestamptz, _>(now)
                .execute(conn)?;
            }
            let mut set = "cancellation_detected_at = $2".to_owned();
            if decision.remove_confirmed_date {
                set.push_str(", confirmed_removed_at = $2");
            }
            if decision.outcome == CancellationOutcome::NotApplicable {
                // Nothing for the decider: decided here, once.
                set.push_str(
                    ", cancellation_decided_at = $2, cancellation_outcome = 'NOT_APPLICABLE'",
                );
            }
            set_link(conn, link.link_id, &set, now)?;
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
            let mut details = inputs(&link, &decision);
            details["rule"] = json!("R15");
            details["confirmed_removed"] = json!(decision.remove_confirmed_date);
            audit(conn, now, policy, actor, &link, kind, &link.state, details)?;
            batch.decisions.push(format!(
                "order {}: {} ({})",
                link.order_id, kind, decision.explanation
            ));
        }
        Ok(batch)
    }
}

/// `re-release-decider` (R16, R17): re-release or refund each detected cancellation, as the
/// policy decides; merchants outside the re-release regions or dates are decided `FLAG_ONLY`
/// (they repair the order with modify-tracking), never skipped.
pub struct ReReleaseDecider;

impl Step for ReReleaseDecider {
    const NAME: &'static str = "re-release-decider";

    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        policy: &Policy,
        actor: &Actor,
        limit: i64,
        after: i64,
    ) -> ServiceResult<Batch> {
        let links = claim_cancelled(
            conn,
            "ot.cancellation_detected_at IS NOT NULL AND ot.cancellation_decided_at IS NULL",
            limit,
            after,
        )?;
        let mut batch = Batch {
            claimed: links.len(),
            last_key: links.last().map_or(after, |l| l.link_id),
            ..Batch::default()
        };
        for link in links {
            let state: OrderState = link.state.parse().map_err(ServiceError::internal)?;
            // The merchant replaced the tracking (R4) since the detection: nothing to decide.
            let decision = if link.is_current {
                decision_for(&link, state, policy)
            } else {
                decision_for(&link, OrderState::Approved, policy)
            };
            let outcome = if link.is_current {
                decision.outcome
            } else {
                CancellationOutcome::NotApplicable
            };
            let details = inputs(&link, &decision);
            let (kind, state_after) = match outcome {
                CancellationOutcome::ReRelease => {
                    re_release(conn, now, policy, &link, &decision)?;
                    enqueue(
                        conn,
                        now,
                        "order.re_released",
                        &format!("{}:{}", link.order_id, link.link_id),
                        &link.merchant_id,
                        Some(&link.order_id),
                        json!({
                            "order_id": link.order_id,
                            "cancelled_tracking_number": link.tracking_number,
                            "new_deadline": rerelease_deadline(now, &policy.values),
                        }),
                    )?;
                    ("re_released", OrderState::Approved.as_str())
                }
                CancellationOutcome::Refund => {
                    refund(conn, now, &link.order_id, "TRACKING_CANCELLED_LATE")?;
                    enqueue(
                        conn,
                        now,
                        "refund.requested",
                        &link.order_id,
                        &link.merchant_id,
                        Some(&link.order_id),
                        json!({ "order_id": link.order_id, "reason": "TRACKING_CANCELLED_LATE" }),
                    )?;
                    ("refunded", OrderState::Refunded.as_str())
                }
                CancellationOutcome::FlagOnly => ("cancellation_flag_only", link.state.as_str()),
                CancellationOutcome::NotApplicable => {
                    ("cancellation_not_applicable", link.state.as_str())
                }
            };
            diesel::sql_query(
                "UPDATE order_trackings SET cancellation_decided_at = $2, cancellation_outcome = $3
                 WHERE id = $1",
            )
            .bind::<BigInt, _>(link.link_id)
            .bind::<Timestamptz, _>(now)
            .bind::<Text, _>(outcome.as_str())
            .execute(conn)?;
            let mut details = details;
            details["rule"] = json!("R16");
            details["outcome"] = json!(outcome.as_str());
            audit(conn, now, policy, actor, &link, kind, state_after, details)?;
            batch.count(&outcome.as_str().to_ascii_lowercase());
            batch.decisions.push(format!(
                "order {}: {} ({})",
                link.order_id,
                outcome.as_str(),
                decision.explanation
            ));
        }
        Ok(batch)
    }
}

/// R16, R17: back to `APPROVED` with a new deadline; the cancelled tracking leaves the order
/// (the ship path refuses a cancelled number). The A+ part (R18) is `aplus-reset`'s.
fn re_release(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    link: &CancelledLink,
    decision: &CancellationDecision,
) -> QueryResult<()> {
    let flags: Vec<&str> = decision
        .flags
        .iter()
        .filter(|f| **f != OrderFlag::AplusTrackingNumberCancelled)
        .map(|f| f.as_str())
        .collect();
    diesel::sql_query(
        "UPDATE orders SET state = 'APPROVED', released_at = $2, fulfillment_deadline = $3,
             is_re_released = true, order_re_released_date = $2,
             flags = ARRAY(SELECT DISTINCT unnest(flags || $4::text[])), updated_at = $2
         WHERE id = $1",
    )
    .bind::<Text, _>(&link.order_id)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(rerelease_deadline(now, &policy.values))
    .bind::<diesel::sql_types::Array<Text>, _>(flags)
    .execute(conn)?;
    diesel::sql_query(
        "UPDATE order_trackings SET is_current = false, replaced_at = $2 WHERE id = $1",
    )
    .bind::<BigInt, _>(link.link_id)
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    Ok(())
}

fn refund(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    order_id: &str,
    reason: &str,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE orders SET state = 'REFUNDED', refund_reason = $2, refunded_at = $3, updated_at = $3
         WHERE id = $1",
    )
    .bind::<Text, _>(order_id)
    .bind::<Text, _>(reason)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// `aplus-reset` (R18): an A+ order re-released because the partner carrier cancelled leaves
/// the program: flag `APLUS_TRACKING_NUMBER_CANCELLED`, shipping detail reset to the customer's
/// own address. Merchant-cancelled A+ orders never enter this queue: they stay in the program.
pub struct AplusReset;

impl Step for AplusReset {
    const NAME: &'static str = "aplus-reset";

    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        policy: &Policy,
        actor: &Actor,
        limit: i64,
        after: i64,
    ) -> ServiceResult<Batch> {
        let links = claim_cancelled(
            conn,
            "ot.cancellation_outcome = 'RE_RELEASE' AND ot.aplus_reset_at IS NULL
             AND o.is_advanced_logistics AND t.cancelled_by = 'CARRIER'",
            limit,
            after,
        )?;
        let mut batch = Batch {
            claimed: links.len(),
            last_key: links.last().map_or(after, |l| l.link_id),
            ..Batch::default()
        };
        for link in links {
            let order = repo::orders::find(conn, &link.merchant_id, &link.order_id)?
                .ok_or_else(|| ServiceError::not_found("order", link.order_id.clone()))?;
            let from: Address = order.shipping_detail();
            let to: Address = order.customer_shipping_detail();
            diesel::sql_query(
                "UPDATE orders SET is_advanced_logistics = false,
                     flags = ARRAY(SELECT DISTINCT unnest(flags || ARRAY['APLUS_TRACKING_NUMBER_CANCELLED'])),
                     ship_name = $2, ship_street_address1 = $3, ship_street_address2 = $4,
                     ship_city = $5, ship_state = $6, ship_zipcode = $7, ship_country = $8,
                     ship_phone_number = $9, updated_at = $10
                 WHERE id = $1",
            )
            .bind::<Text, _>(&link.order_id)
            .bind::<Text, _>(&to.name)
            .bind::<Text, _>(&to.street_address1)
            .bind::<Text, _>(&to.street_address2)
            .bind::<Text, _>(&to.city)
            .bind::<Text, _>(&to.state)
            .bind::<Text, _>(&to.zipcode)
            .bind::<Text, _>(&to.country)
            .bind::<Text, _>(&to.phone_number)
            .bind::<Timestamptz, _>(now)
            .execute(conn)?;
            set_link(conn, link.link_id, "aplus_reset_at = $2", now)?;
            audit(
                conn,
                now,
                policy,
                actor,
                &link,
                "aplus_left_program",
                &order.state,
                json!({
                    "rule": "R18",
                    "cancelled_by": "CARRIER",
                    "flag": "APLUS_TRACKING_NUMBER_CANCELLED",
                    "shipping_detail_before": from,
                    "shipping_detail_after": to,
                }),
            )?;
            enqueue(
                conn,
                now,
                "merchant.notified",
                &format!("aplus_left_program:{}:{}", link.order_id, link.link_id),
                &link.merchant_id,
                Some(&link.order_id),
                json!({
                    "order_id": link.order_id,
                    "reason": "aplus_left_program",
                    "ship_to_country": to.country,
                }),
            )?;
            batch.count("reset");
            batch.decisions.push(format!(
                "order {}: leaves A+, ships to the customer in {} (R18)",
                link.order_id, to.country
            ));
        }
        Ok(batch)
    }
}

#[derive(Debug, QueryableByName)]
struct LateOrder {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    merchant_id: String,
    #[diesel(sql_type = Text)]
    product_id: String,
    #[diesel(sql_type = Timestamptz)]
    fulfillment_deadline: DateTime<Utc>,
}

/// `deadline-enforcer` (R5): `APPROVED` orders past their deadline are refunded
/// (`NOT_SHIPPED_IN_TIME`), with a merchant violation and a product-disable candidate.
pub struct DeadlineEnforcer;

impl Step for DeadlineEnforcer {
    const NAME: &'static str = "deadline-enforcer";

    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        policy: &Policy,
        actor: &Actor,
        limit: i64,
        _after: i64,
    ) -> ServiceResult<Batch> {
        let late: Vec<LateOrder> = diesel::sql_query(
            "SELECT id, merchant_id, product_id, fulfillment_deadline FROM orders
             WHERE state = 'APPROVED' AND fulfillment_deadline < $1
             ORDER BY fulfillment_deadline, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind::<Timestamptz, _>(now)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
        let mut batch = Batch {
            claimed: late.len(),
            ..Batch::default()
        };
        for order in late {
            // The query and the rule agree; the rule decides.
            if !is_late(order.fulfillment_deadline, now) {
                continue;
            }
            refund(conn, now, &order.id, "NOT_SHIPPED_IN_TIME")?;
            diesel::sql_query(
                "INSERT INTO merchant_violations (merchant_id, order_id, kind, occurred_at)
                 VALUES ($1, $2, 'NOT_SHIPPED_IN_TIME', $3) ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(&order.merchant_id)
            .bind::<Text, _>(&order.id)
            .bind::<Timestamptz, _>(now)
            .execute(conn)?;
            if !order.product_id.is_empty() {
                diesel::sql_query(
                    "INSERT INTO product_disable_candidates (merchant_id, product_id, order_id, reason, created_at)
                     VALUES ($1, $2, $3, 'NOT_SHIPPED_IN_TIME', $4) ON CONFLICT DO NOTHING",
                )
                .bind::<Text, _>(&order.merchant_id)
                .bind::<Text, _>(&order.product_id)
                .bind::<Text, _>(&order.id)
                .bind::<Timestamptz, _>(now)
                .execute(conn)?;
            }
            repo::audit::record_event(
                conn,
                &NewOrderEvent {
                    order_id: &order.id,
                    merchant_id: &order.merchant_id,
                    actor: &actor.0,
                    kind: "refunded",
                    state_before: Some(OrderState::Approved.as_str()),
                    state_after: OrderState::Refunded.as_str(),
                    policy_version: Some(policy.version),
                    details: json!({
                        "rule": "R5",
                        "reason": "NOT_SHIPPED_IN_TIME",
                        "fulfillment_deadline": order.fulfillment_deadline,
                    }),
                    occurred_at: now,
                },
            )?;
            enqueue(
                conn,
                now,
                "refund.requested",
                &order.id,
                &order.merchant_id,
                Some(&order.id),
                json!({ "order_id": order.id, "reason": "NOT_SHIPPED_IN_TIME" }),
            )?;
            batch.count("refunded");
            batch.decisions.push(format!(
                "order {}: refund NOT_SHIPPED_IN_TIME (deadline {})",
                order.id,
                order.fulfillment_deadline.to_rfc3339()
            ));
        }
        Ok(batch)
    }
}

#[derive(Debug, QueryableByName)]
struct Due {
    #[diesel(sql_type = Text)]
    merchant_id: String,
    #[diesel(sql_type = BigInt)]
    to_fulfill: i64,
}

/// `merchant-notifier` (R9): once per merchant per UTC day, one notification with the count of
/// orders to fulfil. The (merchant, day) key makes a second one impossible, whatever the
/// schedule or however many copies run.
pub struct MerchantNotifier;

impl Step for MerchantNotifier {
    const NAME: &'static str = "merchant-notifier";

    fn batch(
        conn: &mut PgConnection,
        now: DateTime<Utc>,
        _policy: &Policy,
        _actor: &Actor,
        limit: i64,
        _after: i64,
    ) -> ServiceResult<Batch> {
        let day = now.date_naive();
        let due: Vec<Due> = diesel::sql_query(
            "SELECT m.id AS merchant_id,
                    (SELECT count(*) FROM orders o WHERE o.merchant_id = m.id AND o.state = 'APPROVED')
                      AS to_fulfill
             FROM merchants m
             WHERE NOT EXISTS (SELECT 1 FROM merchant_notifications n
                               WHERE n.merchant_id = m.id AND n.day = $1)
             ORDER BY m.id
             LIMIT $2
             FOR UPDATE OF m SKIP LOCKED",
        )
        .bind::<Date, _>(day)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
        let mut batch = Batch {
            claimed: due.len(),
            ..Batch::default()
        };
        for merchant in due {
            let inserted = diesel::sql_query(
                "INSERT INTO merchant_notifications (merchant_id, day, orders_to_fulfill, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(&merchant.merchant_id)
            .bind::<Date, _>(day)
            .bind::<diesel::sql_types::Integer, _>(i32::try_from(merchant.to_fulfill).unwrap_or(i32::MAX))
            .bind::<Timestamptz, _>(now)
            .execute(conn)?;
            if inserted == 0 {
                continue;
            }
            if merchant.to_fulfill == 0 {
                // Recorded, so not asked again today; nothing to tell.
                batch.count("nothing_to_fulfil");
                continue;
            }
            enqueue(
                conn,
                now,
                "merchant.notified",
                &format!("digest:{}:{day}", merchant.merchant_id),
                &merchant.merchant_id,
                None,
                json!({
                    "merchant_id": merchant.merchant_id,
                    "day": day.to_string(),
                    "orders_to_fulfill": merchant.to_fulfill,
                }),
            )?;
            batch.count("notified");
            batch.decisions.push(format!(
                "merchant {}: {} orders to fulfil",
                merchant.merchant_id, merchant.to_fulfill
            ));
        }
        Ok(batch)
    }
}
