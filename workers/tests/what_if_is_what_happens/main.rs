//! Issue 18, "one decision, computed once": over generated orders, times and cancellers, what the
//! what-if (`evaluate::what_if_cancelled`, which `PolicyService/DecideCancellation` answers)
//! predicts for a decision at `T` is exactly what `cancellation-detector` then
//! `re-release-decider` write when their clock reads `T` (R15–R18).
//!
//! Cases come from a small deterministic generator (no property-testing crate in the
//! workspace); `WHAT_IF_SEED` picks another seed. Every case is its own order, cases are decided
//! in a few groups sharing a decision moment `T`, all in one database. The what-if is asked at
//! the three moments an operator could ask it: before the cancellation arrives (a hypothetical),
//! after it arrived but before the detector ran, and after the detector but before the decider.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod cases;
mod differences;
mod world;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use diesel::PgConnection;
use fulfillment_core::models::Order;
use fulfillment_core::repo;
use fulfillment_orders::merchants;
use fulfillment_policy::cancellation::CancellationDecision;
use fulfillment_workers::reconcile::{AplusReset, CancellationDetector, ReReleaseDecider};

use common::at;

use cases::{COUNTRIES, Case, Group, Rng, generate, groups};
use differences::differences;
use world::World;

const DEFAULT_SEED: u64 = 0x5eed_0018;
const CASES_PER_GROUP: usize = 48;
/// When the what-if is asked, in the order of each case's three predictions.
const MOMENTS: [&str; 3] = [
    "before the cancellation arrived",
    "after it arrived",
    "after the detector ran",
];

#[derive(Debug, Clone, PartialEq)]
struct Prediction {
    decision: CancellationDecision,
    policy_version: i32,
}

/// What the cases have shown so far.
#[derive(Default)]
struct Tally {
    report: String,
    failures: usize,
    failures_by_moment: [usize; 3],
    outcomes: BTreeMap<String, usize>,
    total: usize,
}

/// A case's three predictions and its order as it was before the workers ran.
struct Asked {
    predictions: [Prediction; 3],
    before: Order,
}

#[tokio::test]
async fn what_the_what_if_predicts_is_what_the_workers_write() {
    let seed = std::env::var("WHAT_IF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = Rng(seed);
    let w = World::new();
    let mut conn = w.db.conn();
    for (i, country) in COUNTRIES.iter().enumerate() {
        merchants::upsert_merchant(
            &mut conn,
            at(2020, 1, 1, 0, 0),
            &format!("m-{i}"),
            "M",
            country,
        )
        .unwrap();
    }
    let mut tally = Tally::default();
    for (gi, group) in groups().iter().enumerate() {
        let cases = generate(&mut rng, group, gi, CASES_PER_GROUP);
        let asked = ask_then_decide(&w, &mut conn, group, &cases).await;
        for (case, asked) in cases.iter().zip(&asked) {
            compare(&mut tally, &w, &mut conn, group, case, asked);
        }
    }
    let Tally {
        report,
        failures,
        failures_by_moment,
        outcomes,
        total,
    } = tally;
    eprintln!("seed {seed:#x}: {total} cases, outcomes {outcomes:?}");
    // The generator reaches every outcome and both policy versions (else it proves little).
    for needed in [
        "NOT_APPLICABLE v1",
        "FLAG_ONLY v1",
        "RE_RELEASE v1",
        "REFUND v1",
        "RE_RELEASE v2",
        "REFUND v2",
    ] {
        assert!(
            outcomes.contains_key(needed),
            "seed {seed:#x}: no {needed} case generated: {outcomes:?}"
        );
    }
    assert!(
        failures == 0,
        "seed {seed:#x}: the what-if and the workers disagree on {failures} of {total} cases \
         (by when it was asked: {:?}):\n{report}",
        MOMENTS.iter().zip(failures_by_moment).collect::<Vec<_>>()
    );
}

/// Seeds `group`'s cases and asks the what-if about each at the three [`MOMENTS`]: before the
/// cancellation arrives, a hypothetical; then it arrives and is asked about again; the detector
/// runs and the question is asked a third time. Then the decider runs at the group's moment.
async fn ask_then_decide(
    w: &World,
    conn: &mut PgConnection,
    group: &Group,
    cases: &[Case],
) -> Vec<Asked> {
    let t = group.decided_at;
    let mut hypothetical = Vec::with_capacity(cases.len());
    for case in cases {
        w.seed(conn, case);
        hypothetical.push(w.what_if(conn, case, t));
    }
    let mut before = Vec::with_capacity(cases.len());
    let mut received = Vec::with_capacity(cases.len());
    for case in cases {
        w.cancel(conn, case);
        before.push(w.order(conn, &case.order_id));
        received.push(w.what_if(conn, case, t));
    }
    w.clock.set(t);
    assert_eq!(w.run::<CancellationDetector>().await, cases.len() as i64);
    let mut asked = Vec::with_capacity(cases.len());
    for ((case, hypothetical), (received, before)) in cases
        .iter()
        .zip(hypothetical)
        .zip(received.into_iter().zip(before))
    {
        let detected = w.what_if(conn, case, t);
        asked.push(Asked {
            predictions: [hypothetical, received, detected],
            before,
        });
    }
    w.run::<ReReleaseDecider>().await;
    // Every re-release was written whole: nothing is left for aplus-reset.
    assert_eq!(w.run::<AplusReset>().await, 0, "group {}", group.name);
    asked
}

/// Compares what the workers wrote for `case` with each of its predictions, into `tally`.
fn compare(
    tally: &mut Tally,
    w: &World,
    conn: &mut PgConnection,
    group: &Group,
    case: &Case,
    asked: &Asked,
) {
    tally.total += 1;
    let after = w.order(conn, &case.order_id);
    let link = w.link(conn, &case.order_id);
    let events = repo::audit::events_for_order(conn, &case.order_id).unwrap();
    *tally
        .outcomes
        .entry(format!(
            "{} v{}",
            link.0.clone().unwrap_or_default(),
            asked.predictions[0].policy_version
        ))
        .or_default() += 1;
    let mut case_diffs = Vec::new();
    for (m, p) in asked.predictions.iter().enumerate() {
        let diffs = differences(p, case, &asked.before, &after, &link, &events);
        if !diffs.is_empty() {
            tally.failures_by_moment[m] += 1;
        }
        for diff in diffs {
            case_diffs.push(format!("    asked {}: {diff}", MOMENTS[m]));
        }
    }
    if !case_diffs.is_empty() {
        tally.failures += 1;
        if tally.failures <= 12 {
            let _ = writeln!(
                tally.report,
                "case {} (group {}, T = {:?}): {case:?}\n  what-if (first ask) {:?}\n{}",
                case.order_id,
                group.name,
                group.decided_at,
                asked.predictions[0],
                case_diffs.join("\n")
            );
        }
    }
}
