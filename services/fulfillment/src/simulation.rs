//! Issue 24 (R5, R15–R18, R30): `SimulatePolicy`'s replay of stored history. Reads the decisions
//! of a window in keyset pages (memory stays flat), rebuilds each decision's input from what was
//! recorded, and judges it through `fulfillment_policy::simulation` (the rules' own functions)
//! under the version that made it and under the candidate. It writes nothing; callers run it
//! in a read-only snapshot.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use diesel::PgConnection;
use fulfillment_core::repo::policies::{
    self as repo, CancellationDecisionRow, Cursor, LateDecisionRow,
};
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::simulation::{
    self as sim, CancellationFacts, LateDecision, RULE_CANCELLATION, RULE_LATE, Release, Replayed,
    Tally, Unjudged,
};
use fulfillment_policy::values::{Policy, PolicyValues};

/// Decisions read per page: large enough that a page costs little more than its rows, small
/// enough that a page's rows are a few megabytes.
pub const PAGE: i64 = 5_000;
/// The longest window one simulation replays: ten years. The replay reads pages, so a long
/// window costs time, never memory; the bound only stops a typo from reading all of history.
pub fn max_window() -> Duration {
    Duration::days(3_660)
}

pub const SHIPPED_LATE_NOT_RECORDED: Unjudged = Unjudged {
    reason: "SHIPPED_LATE_NOT_RECORDED",
    message: "the shipment's record does not say whether it was late (R2)",
};

pub struct SimulationInput {
    /// The values to try (version 0 when not published).
    pub candidate: Policy,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub samples_per_transition: usize,
}

/// How far a replay is, reported after every page.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub decisions_read: u64,
    pub reached: DateTime<Utc>,
    pub elapsed_ms: u64,
}

/// What the replay does not cover, stated in every answer.
pub const NOTES: &[&str] = &[
    "R10/R11 combined-shipment refusals are not replayed: a refused request changes nothing and is not stored, so history cannot say which attempts a wider window would have allowed; accepted combined shipments are not re-judged either",
    "R5 is judged at each recorded decision point (a shipment of an APPROVED order, a late refund): SHIPPED_LATE means still APPROVED past the deadline when shipped, so refundable by the deadline worker; NOT_YET_DUE means not refunded at that moment (what the merchant would have done later is not in history)",
    "Each decision's baseline is the version that made it (for R5, the one that fixed the deadline at the release): reproduced counts the baseline judgements equal to the recorded outcome",
];

/// Replays every R5 and R15–R18 decision of `[from, to)`. `progress` is told after each page;
/// when it answers `false` (the caller went away) the replay stops.
pub fn simulate(
    conn: &mut PgConnection,
    versions: &[Policy],
    input: &SimulationInput,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> ServiceResult<Tally> {
    let started = Instant::now();
    let mut tally = Tally::new(input.samples_per_transition);
    let baseline_of = |v: Option<i32>| v.and_then(|v| versions.iter().find(|p| p.version == v));
    let candidate = &input.candidate.values;
    let mut report = |tally: &Tally, reached: DateTime<Utc>| -> ServiceResult<()> {
        let keep_going = progress(Progress {
            decisions_read: tally.decisions,
            reached,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        if keep_going {
            Ok(())
        } else {
            Err(ServiceError::Aborted {
                reason: "SIMULATION_CANCELLED",
                message: "the caller went away".to_owned(),
            })
        }
    };

    let Some((first, last)) = repo::decision_id_bounds(conn, input.from, input.to)? else {
        return Ok(tally);
    };
    let start = Cursor {
        after: first - 1,
        last,
    };
    let mut cursor = start;
    loop {
        let rows = repo::decisions::<LateDecisionRow>(conn, input.from, input.to, cursor, PAGE)?;
        let Some(last) = rows.last() else { break };
        let reached = last.occurred_at;
        cursor.after = last.id;
        for row in &rows {
            replay_late(&mut tally, row, baseline_of(row.release_version), candidate);
        }
        report(&tally, reached)?;
    }

    let mut cursor = start;
    loop {
        let rows =
            repo::decisions::<CancellationDecisionRow>(conn, input.from, input.to, cursor, PAGE)?;
        let Some(last) = rows.last() else { break };
        let reached = last.occurred_at;
        cursor.after = last.id;
        for row in rows {
            let baseline = baseline_of(row.policy_version);
            replay_cancellation(&mut tally, row, baseline, candidate);
        }
        report(&tally, reached)?;
    }
    Ok(tally)
}

/// Judges one R5 decision under the version that made it and under the candidate.
fn replay_late(
    tally: &mut Tally,
    row: &LateDecisionRow,
    baseline: Option<&Policy>,
    candidate: &PolicyValues,
) {
    let release = match (row.release_kind.as_deref(), row.release_at) {
        (Some("released"), Some(at)) => Release::Initial(at),
        (Some("re_released"), Some(at)) => Release::ReRelease(at),
        _ => {
            tally.add_unjudged(RULE_LATE, &row.order_id, sim::RELEASE_UNKNOWN);
            return;
        }
    };
    let Some(baseline) = baseline else {
        tally.add_unjudged(RULE_LATE, &row.order_id, sim::VERSION_UNKNOWN);
        return;
    };
    let (decision, recorded) = if row.kind == "refunded" {
        (LateDecision::Refund, "REFUND")
    } else {
        match row.shipped_late {
            Some(true) => (LateDecision::Shipment, "SHIPPED_LATE"),
            Some(false) => (LateDecision::Shipment, "SHIPPED_ON_TIME"),
            None => {
                tally.add_unjudged(RULE_LATE, &row.order_id, SHIPPED_LATE_NOT_RECORDED);
                return;
            }
        }
    };
    tally.add(Replayed {
        rule: RULE_LATE,
        order_id: row.order_id.clone(),
        merchant_id: row.merchant_id.clone(),
        decided_at: row.occurred_at,
        baseline_version: baseline.version,
        recorded: recorded.to_owned(),
        baseline: sim::judge_late(decision, release, row.occurred_at, &baseline.values),
        candidate: sim::judge_late(decision, release, row.occurred_at, candidate),
    });
}

/// Judges one R15–R18 cancellation decision under the version that made it and under the
/// candidate.
fn replay_cancellation(
    tally: &mut Tally,
    row: CancellationDecisionRow,
    baseline: Option<&Policy>,
    candidate: &PolicyValues,
) {
    let Some(baseline) = baseline else {
        tally.add_unjudged(RULE_CANCELLATION, &row.order_id, sim::VERSION_UNKNOWN);
        return;
    };
    let Some(recorded) = row.recorded_outcome else {
        tally.add_unjudged(RULE_CANCELLATION, &row.order_id, sim::FACTS_NOT_RECORDED);
        return;
    };
    let facts = CancellationFacts {
        decided_at: row.occurred_at,
        state_before: row.state_before,
        carrier: row.carrier,
        cancelled_at: row.cancelled_at,
        cancelled_by: row.cancelled_by,
        initial_released_at: row.initial_released_at,
        merchant_country: row.merchant_country,
        tracking_found: row.tracking_found,
        confirmed_fulfillment_at: row.confirmed_fulfillment_at,
        link_replaced_at: row.link_replaced_at,
        is_advanced_logistics: row.is_advanced_logistics || row.left_aplus_program == Some(true),
    };
    let decision_input = match sim::cancellation_input(&facts) {
        Ok(i) => i,
        Err(why) => {
            tally.add_unjudged(RULE_CANCELLATION, &row.order_id, why);
            return;
        }
    };
    tally.add(Replayed {
        rule: RULE_CANCELLATION,
        order_id: row.order_id,
        merchant_id: row.merchant_id,
        decided_at: row.occurred_at,
        baseline_version: baseline.version,
        recorded,
        baseline: sim::judge_cancellation(&decision_input, &baseline.values),
        candidate: sim::judge_cancellation(&decision_input, candidate),
    });
}
