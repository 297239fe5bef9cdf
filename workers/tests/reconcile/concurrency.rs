//! Several copies at once and a run killed mid-way: each order decided exactly once, nothing
//! half done. Both are made deterministic with PostgreSQL locks rather than timing: the copies
//! are held at a gate until all four wait at their first claim, and the killed run is held in
//! an open batch before it is killed.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::{Clock, Db};
use fulfillment_workers::reconcile::{self, CancellationDetector, ReReleaseDecider, Step, Summary};

use crate::world::{World, at};

/// How long any wait on a condition may take before the test fails.
const PATIENCE: StdDuration = StdDuration::from_secs(30);
/// Copies run together.
const COPIES: usize = 4;
/// The in-process copies' moment, fixed so the test never depends on the wall clock.
const NOW: &str = "'2026-11-20 12:00:00+00'::timestamptz";
/// The killed copy's `application_name`, to find its sessions in `pg_stat_activity`.
const VICTIM: &str = "reconcile-victim";

/// `n` CN orders released 10 days before `now` (SQL), shipped with WishPost, scanned, and
/// cancelled by the carrier 2 days before `now`, inserted set-wise (the scenario, not the path
/// under test).
fn many_cancelled(conn: &mut PgConnection, n: usize, now: &str) {
    conn.batch_execute(&format!(
        "INSERT INTO merchants (id, name, country) VALUES ('m-cn', 'M', 'CN');
         INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
             ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country, customer_shipping_detail)
         SELECT 'o-' || i, 'm-cn', 'SHIPPED', {now} - interval '10 days', {now} - interval '10 days',
                {now} - interval '5 days', 'n', 's', 'c', 'z', 'US', '{{}}'
         FROM generate_series(1, {n}) i;
         INSERT INTO trackings (merchant_id, carrier, tracking_number, status, confirmed_fulfillment_at,
             cancelled_at, cancelled_by)
         SELECT 'm-cn', 'wishpost', 'WP' || lpad(i::text, 10, '0'), 'CANCELLED', {now} - interval '8 days',
                {now} - interval '2 days', 'CARRIER'
         FROM generate_series(1, {n}) i;
         INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late)
         SELECT 'o-' || i, t.id, 'CN', 'API', {now} - interval '9 days', false
         FROM generate_series(1, {n}) i JOIN trackings t ON t.tracking_number = 'WP' || lpad(i::text, 10, '0');"
    ))
    .unwrap();
}

/// Sessions of this test's database matching `filter` (SQL on `pg_stat_activity`).
fn sessions(w: &World, filter: &str) -> i64 {
    w.count(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND {filter}"
    ))
}

/// Waits for `ready`, polling every few milliseconds, failing after [`PATIENCE`].
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(StdDuration::from_millis(5));
    }
}

/// [`COPIES`] in-process runs of `S`, each with its own pool, held at a gate (the queue's
/// tables locked) until every copy waits at its first claim, then let go together.
async fn copies_at_once<S: Step>(w: &World) -> Vec<Summary> {
    let mut gate = w.conn();
    gate.batch_execute(
        "BEGIN; LOCK TABLE merchants, orders, trackings, order_trackings IN ACCESS EXCLUSIVE MODE",
    )
    .unwrap();
    let clock: Arc<dyn Clock> = w.clock.clone();
    let copies: Vec<_> = (0..COPIES)
        .map(|_| {
            let db = Db::new(w.db.pool(2));
            let (clock, policies) = (clock.clone(), w.policies.clone());
            tokio::spawn(async move {
                reconcile::run::<S>(&db, &clock, &policies, 50, false)
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while sessions(w, "wait_event_type = 'Lock'") < COPIES as i64 {
        assert!(
            Instant::now() < deadline,
            "gave up waiting: every copy at its first claim"
        );
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    gate.batch_execute("COMMIT").unwrap();
    let mut runs = Vec::new();
    for copy in copies {
        runs.push(copy.await.unwrap());
    }
    runs
}

#[tokio::test]
async fn several_copies_at_once_decide_each_order_exactly_once() {
    let w = World::new(at(2026, 11, 20, 12, 0));
    let n = 2000;
    many_cancelled(&mut w.conn(), n, NOW);
    let runs = copies_at_once::<CancellationDetector>(&w).await;
    let claimed: i64 = runs.iter().map(|s| s.claimed).sum();
    assert_eq!(claimed, n as i64);
    assert!(
        runs.iter().filter(|s| s.claimed > 0).count() >= 2,
        "the copies shared the work: {runs:?}"
    );
    let runs = copies_at_once::<ReReleaseDecider>(&w).await;
    assert_eq!(runs.iter().map(|s| s.claimed).sum::<i64>(), n as i64);
    // Exactly one detection and one decision row per order, one outbox row per re-release.
    assert_eq!(
        w.count("SELECT count(*) FROM (SELECT order_id FROM order_events WHERE kind = 'tracking_cancelled' GROUP BY order_id HAVING count(*) = 1) x"),
        n as i64
    );
    assert_eq!(
        w.count("SELECT count(*) FROM order_events WHERE kind = 're_released'"),
        n as i64
    );
    assert_eq!(
        w.count("SELECT count(DISTINCT order_id) FROM order_events WHERE kind = 're_released'"),
        n as i64
    );
    assert_eq!(
        w.count("SELECT count(*) FROM outbox WHERE event_type = 'order.re_released'"),
        n as i64
    );
    assert_eq!(
        w.count("SELECT count(*) FROM orders WHERE state = 'APPROVED' AND is_re_released"),
        n as i64
    );
}

/// The cancellation-detector binary on `w`'s database with `args`, its sessions named `name`.
fn detector(w: &World, name: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cancellation-detector"))
        .args(args)
        .env("DATABASE_URL", w.db.url())
        .env("PGAPPNAME", name)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Detections committed so far.
fn detected(w: &World) -> i64 {
    w.count("SELECT count(*) FROM order_trackings WHERE cancellation_detected_at IS NOT NULL")
}

/// Starts the detector in small batches and, once some are committed, holds it inside a batch
/// (its audit insert waits on a lock) and SIGKILLs it there; returns the detections committed,
/// counted once the killed copy's sessions are gone (so no batch of it can still land).
fn kill_mid_batch(w: &World) -> i64 {
    let mut victim = detector(w, VICTIM, &["--batch-size", "5"]);
    wait_until("the detector to commit some batches", || detected(w) >= 50);
    // The hold: SHARE conflicts with the detector's inserts into order_events, so its next
    // batch waits, claimed and uncommitted, until the kill.
    let mut hold = w.conn();
    hold.batch_execute("BEGIN; LOCK TABLE order_events IN SHARE MODE")
        .unwrap();
    wait_until("the detector held inside a batch", || {
        sessions(
            w,
            &format!("application_name = '{VICTIM}' AND wait_event_type = 'Lock'"),
        ) > 0
    });
    victim.kill().unwrap();
    victim.wait().unwrap();
    // A backend waiting on a lock does not notice its client is gone: let go of the hold, so
    // the batch's insert runs, the backend finds the closed socket, and the batch (never
    // committed) rolls back.
    hold.batch_execute("ROLLBACK").unwrap();
    wait_until("the killed copy's database sessions to end", || {
        sessions(w, &format!("application_name = '{VICTIM}'")) == 0
    });
    detected(w)
}

#[test]
fn a_run_killed_mid_way_then_rerun_leaves_nothing_half_done_or_doubled() {
    // The binary reads the system clock, so the work is seeded relative to the database's now().
    let w = World::new(at(2026, 11, 20, 12, 0));
    let n = 3000;
    many_cancelled(&mut w.conn(), n, "now()");
    let done = kill_mid_batch(&w);
    assert!(done < n as i64, "killed too late to prove anything: {done}");
    // Every committed detection is whole: flag, confirmed removal and audit row together.
    assert_eq!(
        w.count("SELECT count(*) FROM orders WHERE tracking_number_cancelled"),
        done
    );
    assert_eq!(
        w.count("SELECT count(*) FROM order_events WHERE kind = 'tracking_cancelled'"),
        done
    );
    // The killed run is still `running` in worker_runs; the rerun finishes the rest.
    let out = detector(&w, "reconcile-rerun", &[])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with(&format!(
            "cancellation-detector: claimed={}",
            n as i64 - done
        )),
        "{line}"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM order_events WHERE kind = 'tracking_cancelled'"),
        n as i64
    );
    assert_eq!(
        w.count(
            "SELECT count(DISTINCT order_id) FROM order_events WHERE kind = 'tracking_cancelled'"
        ),
        n as i64
    );
    assert_eq!(
        w.count("SELECT count(*) FROM worker_runs WHERE outcome = 'running'"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM worker_runs WHERE outcome = 'completed'"),
        1
    );
}
