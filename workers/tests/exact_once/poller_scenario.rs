//! The tracker-poller's scenario for the exact-once suite: due trackings and a fake AfterShip.

use std::time::Duration;

use chrono::Utc;
use diesel::connection::SimpleConnection;
use fulfillment_core::testing::TestDb;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::aftership;
use crate::{Count, Effect, FakeCarrier, Scenario, effect};

/// AfterShip's documented answer: three checkpoints, the last one `Delivered` (final, so a
/// finished tracking is never due again).
fn aftership_answer() -> serde_json::Value {
    let now = Utc::now();
    aftership(
        "X",
        &[
            ("InfoReceived", now - chrono::Duration::days(3)),
            ("InTransit", now - chrono::Duration::days(2)),
            ("Delivered", now - chrono::Duration::hours(1)),
        ],
    )
}

/// A fake AfterShip answering every USPS tracking with [`aftership_answer`], on its own runtime.
fn fake_aftership() -> FakeCarrier {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::builder().start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/v4/trackings/usps/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(aftership_answer())
                    // Slow enough that copies overlap and a kill lands mid-run.
                    .set_delay(Duration::from_millis(5)),
            )
            .mount(&server)
            .await;
        server
    });
    FakeCarrier { runtime, server }
}

/// `tracker-poller` (R22): every due tracking asked once, its three checkpoints stored once each
/// (source `POLL`, actor `worker:tracker-poller`), `DELIVERED` and no longer polled.
pub fn tracker_poller() -> Scenario {
    let n = 300;
    let db = TestDb::new();
    db.conn()
        .batch_execute(&format!(
            "INSERT INTO merchants (id, name, country) VALUES ('m-1', 'M', 'US');
             INSERT INTO trackings (merchant_id, carrier, tracking_number, next_poll_at, created_at, updated_at)
             SELECT 'm-1', 'usps', '94001118992233' || lpad(i::text, 8, '0'),
                    now() - interval '1 minute', now(), now()
             FROM generate_series(1, {n}) i;"
        ))
        .unwrap();
    let carrier = fake_aftership();
    let env = vec![
        ("FULFILLMENT_CARRIER_AFTERSHIP_URL", carrier.server.uri()),
        (
            "FULFILLMENT_CARRIER_AFTERSHIP_API_KEY",
            "as-key-123".to_owned(),
        ),
        ("FULFILLMENT_CARRIER_AFTERSHIP_RPS", "1000".to_owned()),
    ];
    let actor = "worker:tracker-poller";
    Scenario {
        worker: "tracker-poller",
        binary: env!("CARGO_BIN_EXE_tracker-poller"),
        db,
        items: n,
        args: vec!["--batch-size", "10", "--concurrency", "2"],
        kill_args: vec!["--batch-size", "5", "--concurrency", "2"],
        env,
        done: "SELECT count(*) FROM trackings WHERE status = 'DELIVERED'".into(),
        queued:
            "SELECT count(*) FROM trackings WHERE status = 'PENDING' AND next_poll_at IS NOT NULL"
                .into(),
        half_done: vec![(
            "delivered without its three checkpoints, or pending with one, or not due again",
            delivered_half_done(actor),
        )],
        effects: vec![
            effect(
                "tracking events stored",
                "SELECT count(*) FROM tracking_events",
                3 * n,
            ),
            effect(
                "distinct checkpoints stored",
                "SELECT count(DISTINCT (tracking_id, occurred_at, status)) FROM tracking_events",
                3 * n,
            ),
            effect(
                "trackings delivered",
                "SELECT count(*) FROM trackings WHERE status = 'DELIVERED'",
                n,
            ),
            effect(
                "trackings with a failed poll",
                "SELECT count(*) FROM trackings WHERE poll_failures > 0",
                0,
            ),
            Effect {
                what: "carrier requests",
                count: Count::CarrierRequests,
                expected: n,
                may_repeat_after_kill: true,
            },
        ],
        // The killed copy's leases (10 minutes) run out: its claimed trackings are due again.
        after_kill: Some(
            "UPDATE trackings SET next_poll_at = now() - interval '1 second'
             WHERE status = 'PENDING' AND next_poll_at > now()",
        ),
        carrier: Some(carrier),
    }
}

/// SQL: trackings delivered without their three checkpoints, or pending with one, or not due again.
fn delivered_half_done(actor: &str) -> String {
    format!(
        "SELECT count(*) FROM trackings t,
         LATERAL (SELECT count(*) AS n,
                         count(*) FILTER (WHERE source = 'POLL' AND actor = '{actor}') AS mine
                  FROM tracking_events e WHERE e.tracking_id = t.id) e
         WHERE NOT CASE t.status
           WHEN 'DELIVERED' THEN e.n = 3 AND e.mine = 3 AND t.next_poll_at IS NULL
                AND t.confirmed_fulfillment_at IS NOT NULL AND t.delivered_at IS NOT NULL
                AND t.poll_failures = 0
           WHEN 'PENDING' THEN e.n = 0 AND t.next_poll_at IS NOT NULL
           ELSE false END"
    )
}
