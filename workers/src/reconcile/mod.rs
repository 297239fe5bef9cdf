//! The reconciliation workers (R5, R9, R15–R18). Each is a [`Step`]: claim a batch of work with
//! `FOR UPDATE SKIP LOCKED` (one statement), decide each item with `fulfillment-policy`, and
//! write the decisions as they are, with their `order_events` and outbox rows, in the batch's one
//! transaction, one statement per table (`fulfillment_core::repo::reconcile`). A step's queue is
//! defined by a column the step itself sets, so a crashed batch leaves its items queued (its
//! transaction rolled back) and a finished one never sees them again: nothing lost, nothing
//! repeated, however many copies run.

mod aplus_reset;
mod cancellation;
mod deadline;
mod notifier;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use fulfillment_core::models::NewOutboxEvent;
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock};
use fulfillment_orders::{Actor, PolicyStore};
use fulfillment_policy::values::Policy;

pub use aplus_reset::AplusReset;
pub use cancellation::{CancellationDetector, ReReleaseDecider};
pub use deadline::DeadlineEnforcer;
pub use notifier::MerchantNotifier;

/// One worker's decision loop over a batch.
pub trait Step: Send + Sync + 'static {
    /// The binary's name, also the audit actor (`worker:<name>`).
    const NAME: &'static str;

    /// Claims up to `scope.limit` items and applies them; returns what was done, one line per
    /// decision for `--dry-run` and logs. Steps walking a queue in key order start after
    /// `scope.after` instead of from the beginning.
    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch>;
}

/// What a batch decides with: the run's moment and the policy in force then, who acts, how many
/// items to claim at most, and the `last_key` of the run's previous batch.
#[derive(Clone, Copy)]
pub struct BatchScope<'a> {
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
    pub actor: &'a Actor,
    pub limit: i64,
    pub after: i64,
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
    /// A batch of `claimed` items, the highest key among them `last_key`.
    fn claimed(claimed: usize, last_key: i64) -> Self {
        Self {
            claimed,
            last_key,
            ..Self::default()
        }
    }

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
        return dry_run_of::<S>(db, clock, policies, actor, limit).await;
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
                batch_after::<S>(conn, now, &policy, &actor, limit, after)
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

/// One batch of `S`, claiming after the key `after`: what a run and a dry run both do, each
/// with the moment and policy of its own transaction.
fn batch_after<S: Step>(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    limit: i64,
    after: i64,
) -> ServiceResult<Batch> {
    S::batch(
        conn,
        &BatchScope {
            now,
            policy,
            actor,
            limit,
            after,
        },
    )
}

/// The run's work in one transaction that is rolled back: what it would do, and its lines.
async fn dry_run_of<S: Step>(
    db: &Db,
    clock: &SharedClock,
    policies: &std::sync::Arc<PolicyStore>,
    actor: Actor,
    limit: i64,
) -> ServiceResult<(Summary, Vec<String>)> {
    let (clock, policies) = (clock.clone(), policies.clone());
    db.run(move |conn| {
        let result: Result<(), DryRunOrError> = conn.transaction(|conn| {
            let now = clock.now();
            let policy = policies.at(conn, now)?;
            let mut summary = summary_of::<S>();
            let mut lines = Vec::new();
            let mut after = 0;
            loop {
                let batch = batch_after::<S>(conn, now, &policy, &actor, limit, after)?;
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
    .await
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

/// An outbox row whose id derives from what caused it, so a repeated cause asks once.
fn outbox_row<'a>(
    now: DateTime<Utc>,
    event_type: &'a str,
    key: &str,
    merchant_id: &'a str,
    order_id: Option<&'a str>,
    payload: serde_json::Value,
) -> NewOutboxEvent<'a> {
    NewOutboxEvent {
        event_id: format!("{event_type}:{key}"),
        event_type,
        merchant_id,
        order_id,
        payload,
        created_at: now,
    }
}
