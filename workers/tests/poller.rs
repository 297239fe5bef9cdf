//! The tracker-poller end to end (R21, R22): real PostgreSQL, carriers faked by local HTTP
//! servers answering the carriers' documented payloads, and the real binary for the
//! two-processes test.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_carriers::inpost::InPostClient;
use fulfillment_carriers::{CarrierConfig, Registry};
use fulfillment_core::models::Tracking;
use fulfillment_core::schema::trackings;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock};
use fulfillment_workers::poller::{Poller, PollerConfig};

use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::aftership;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

/// A merchant and trackings `carrier` `numbers`, created (and due) at `now()`.
fn trackings(conn: &mut PgConnection, merchant: &str, carrier: &str, numbers: &[String]) {
    conn.batch_execute(&format!(
        "INSERT INTO merchants (id, name, country) VALUES ('{merchant}', 'M', 'US') ON CONFLICT DO NOTHING"
    ))
    .unwrap();
    for n in numbers {
        conn.batch_execute(&format!(
            "INSERT INTO trackings (merchant_id, carrier, tracking_number, next_poll_at, created_at, updated_at)
             VALUES ('{merchant}', '{carrier}', '{n}', '2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z')"
        ))
        .unwrap();
    }
}

fn tracking(conn: &mut PgConnection, number: &str) -> Tracking {
    trackings::table
        .filter(trackings::tracking_number.eq(number))
        .select(Tracking::as_select())
        .first(conn)
        .unwrap()
}

fn registry_with_aftership(server: &MockServer) -> Registry {
    let mut registry = Registry::new();
    let mut config = CarrierConfig::new(server.uri());
    config.api_key = Some("as-key-123".into());
    config.timeout = StdDuration::from_millis(500);
    config.requests_per_second = 1000;
    registry.set_aftership(config).unwrap();
    registry
}

fn poller(db: &TestDb, clock: &Arc<ManualClock>, registry: Registry) -> Poller {
    let shared: Arc<dyn Clock> = clock.clone();
    Poller::new(
        Db::new(db.pool(4)),
        shared,
        registry,
        PollerConfig::default(),
    )
}

#[tokio::test]
async fn r22_a_parcel_is_followed_from_pending_to_delivered_by_polling() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let n = "9400111899223344556677";
    trackings(&mut conn, "m-1", "usps", &[n.to_owned()]);
    let carrier = MockServer::start().await;
    let scanned = now() - Duration::hours(3);
    Mock::given(method("GET"))
        .and(path(format!("/v4/trackings/usps/{n}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(aftership(
            n,
            &[
                ("InfoReceived", now() - Duration::hours(20)),
                ("InTransit", scanned),
            ],
        )))
        .up_to_n_times(1)
        .mount(&carrier)
        .await;
    let clock = Arc::new(ManualClock::new(now()));
    let mut poller = poller(&db, &clock, registry_with_aftership(&carrier));

    let first = poller.run_once().await.unwrap();
    assert_eq!(
        (first.claimed, first.polled, first.changed, first.failed),
        (1, 1, 1, 0)
    );
    let t = tracking(&mut conn, n);
    assert_eq!(t.status, "IN_TRANSIT");
    assert_eq!(t.confirmed_fulfillment_at, Some(scanned));
    // Moving: polled again in two hours; nothing else is due now.
    assert_eq!(t.next_poll_at, Some(now() + Duration::hours(2)));
    assert_eq!(poller.run_once().await.unwrap().claimed, 0);

    // Two hours on, the carrier has delivered it.
    let delivered = now() + Duration::hours(1);
    Mock::given(method("GET"))
        .and(path(format!("/v4/trackings/usps/{n}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(aftership(
            n,
            &[
                ("InfoReceived", now() - Duration::hours(20)),
                ("InTransit", scanned),
                ("Delivered", delivered),
            ],
        )))
        .mount(&carrier)
        .await;
    clock.set(now() + Duration::hours(2));
    let second = poller.run_once().await.unwrap();
    assert_eq!((second.polled, second.changed, second.events), (1, 1, 3));
    let t = tracking(&mut conn, n);
    assert_eq!(t.status, "DELIVERED");
    assert_eq!(t.delivered_at, Some(delivered));
    // The confirmed time was set once and is kept.
    assert_eq!(t.confirmed_fulfillment_at, Some(scanned));
    // Final: never polled again, and the events were stored once each.
    assert_eq!(t.next_poll_at, None);
    clock.set(now() + Duration::days(30));
    assert_eq!(poller.run_once().await.unwrap().claimed, 0);
    let events: i64 =
        fulfillment_core::repo::tracking_events::count_for_tracking(&mut conn, t.id).unwrap();
    assert_eq!(events, 3);
}

#[tokio::test]
async fn r22_one_failing_carrier_backs_off_without_stopping_the_run() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let usps = "9400111899223344556677";
    let inpost = "602677439331630337653846";
    let throttled = "602677439331630337650000";
    trackings(&mut conn, "m-1", "usps", &[usps.to_owned()]);
    trackings(
        &mut conn,
        "m-1",
        "inpost",
        &[inpost.to_owned(), throttled.to_owned()],
    );
    let aftership_server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/v4/trackings/usps/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(aftership(
            usps,
            &[("InTransit", now() - Duration::hours(1))],
        )))
        .mount(&aftership_server)
        .await;
    let inpost_server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/tracking/{inpost}")))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream down"))
        .mount(&inpost_server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/tracking/{throttled}")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&inpost_server)
        .await;
    let mut registry = registry_with_aftership(&aftership_server);
    let mut config = CarrierConfig::new(inpost_server.uri());
    config.timeout = StdDuration::from_millis(500);
    registry.insert(Arc::new(InPostClient::new(config).unwrap()));
    let clock = Arc::new(ManualClock::new(now()));
    let mut poller = poller(&db, &clock, registry);

    let summary = poller.run_once().await.unwrap();
    assert_eq!((summary.claimed, summary.polled, summary.failed), (3, 1, 2));
    assert_eq!(summary.failed_by_carrier.get("inpost"), Some(&2));
    // Issue 20.2: each call's outcome and time, per carrier, for the server's metrics.
    let inpost_calls = &summary.polls["inpost"];
    assert_eq!(inpost_calls.outcomes.get("carrier_error"), Some(&1));
    assert_eq!(inpost_calls.outcomes.get("rate_limited"), Some(&1));
    assert_eq!(inpost_calls.buckets.iter().sum::<usize>(), 2);
    assert_eq!(summary.polls["usps"].outcomes.get("ok"), Some(&1));
    let counts = fulfillment_workers::runs::RunCounts::counts(&summary);
    assert_eq!(counts.get("poll:inpost:rate_limited"), Some(&1));
    assert!(counts.contains_key("poll_us:inpost"), "{counts:?}");
    assert!(
        summary.to_string().contains("failed[inpost]=2"),
        "{summary}"
    );
    assert_eq!(tracking(&mut conn, usps).status, "IN_TRANSIT");
    // Back-off: 15 minutes after the first failure; the carrier's longer Retry-After wins.
    let failed = tracking(&mut conn, inpost);
    assert_eq!(
        (failed.status.as_str(), failed.poll_failures),
        ("PENDING", 1)
    );
    assert_eq!(failed.next_poll_at, Some(now() + Duration::minutes(15)));
    assert_eq!(
        tracking(&mut conn, throttled).next_poll_at,
        Some(now() + Duration::hours(1))
    );
    // Again failing: the back-off doubles.
    clock.set(now() + Duration::minutes(15));
    poller.run_once().await.unwrap();
    let again = tracking(&mut conn, inpost);
    assert_eq!(again.poll_failures, 2);
    assert_eq!(
        again.next_poll_at,
        Some(now() + Duration::minutes(15) + Duration::minutes(30))
    );
}

#[tokio::test]
async fn r13_intelipost_trackings_without_the_integration_are_not_polled() {
    let db = TestDb::new();
    let mut conn = db.conn();
    trackings(&mut conn, "m-br", "intelipost", &["35190".to_owned()]);
    let server = MockServer::start().await;
    let mut registry = Registry::new();
    registry.insert(Arc::new(
        fulfillment_carriers::intelipost::IntelipostClient::new(CarrierConfig::new(server.uri()))
            .unwrap(),
    ));
    let clock = Arc::new(ManualClock::new(now()));
    let summary = poller(&db, &clock, registry).run_once().await.unwrap();
    assert_eq!(
        (summary.claimed, summary.skipped, summary.polled),
        (1, 1, 0)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(tracking(&mut conn, "35190").next_poll_at, None);
}

#[tokio::test]
async fn r22_two_poller_processes_poll_disjoint_trackings() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let numbers: Vec<String> = (0..300).map(|i| format!("94001118992233{i:08}")).collect();
    trackings(&mut conn, "m-1", "usps", &numbers);
    // Everything is due now for the real binaries, which use the system clock.
    conn.batch_execute(
        "UPDATE trackings SET next_poll_at = now() - interval '1 minute', created_at = now()",
    )
    .unwrap();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/v4/trackings/usps/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(aftership(
                    "X",
                    &[("InTransit", Utc::now() - Duration::hours(1))],
                ))
                // Slow enough that the two processes overlap.
                .set_delay(StdDuration::from_millis(15)),
        )
        .mount(&server)
        .await;
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_tracker-poller"))
            .args(["--batch-size", "25", "--concurrency", "4"])
            .env("DATABASE_URL", db.url())
            .env("FULFILLMENT_CARRIER_AFTERSHIP_URL", server.uri())
            .env("FULFILLMENT_CARRIER_AFTERSHIP_API_KEY", "as-key-123")
            .env("FULFILLMENT_CARRIER_AFTERSHIP_RPS", "1000")
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = tokio::task::spawn_blocking(move || {
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert!(a.status.success() && b.status.success());
    // Each tracking was asked about exactly once, whichever process claimed it.
    let requests = server.received_requests().await.unwrap();
    let mut paths: Vec<String> = requests.iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(paths.len(), numbers.len());
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), numbers.len(), "a tracking was polled twice");
    let moved: i64 = trackings::table
        .filter(trackings::status.eq("IN_TRANSIT"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(moved, 300);
}

#[test]
fn the_binary_prints_a_one_line_summary_and_a_dry_run_changes_nothing() {
    let db = TestDb::new();
    let mut conn = db.conn();
    trackings(
        &mut conn,
        "m-1",
        "usps",
        &["9400111899223344556677".to_owned()],
    );
    conn.batch_execute("UPDATE trackings SET next_poll_at = now() - interval '1 minute'")
        .unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tracker-poller"))
            .args(extra)
            .env("DATABASE_URL", db.url())
            // AfterShip configured but unreachable: the poll fails, the run still completes.
            .env("FULFILLMENT_CARRIER_AFTERSHIP_URL", "http://127.0.0.1:9")
            .env("FULFILLMENT_CARRIER_AFTERSHIP_TIMEOUT_MS", "300")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert!(dry.contains("would poll 1 trackings"), "{dry}");
    assert_eq!(
        tracking(&mut conn, "9400111899223344556677").poll_failures,
        0
    );
    let out = run(&[]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("tracker-poller: claimed=1 polled=0 changed=0 failed=1"),
        "{out}"
    );
    assert_eq!(
        tracking(&mut conn, "9400111899223344556677").poll_failures,
        1
    );
}
