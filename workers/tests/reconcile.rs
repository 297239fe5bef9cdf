//! The reconciliation workers on real PostgreSQL: the seeds' boundaries (R15's 2020-11-10, R16's
//! 25 calendar days), A+ carrier- vs merchant-cancelled (R18), late orders (R5), the daily digest
//! (R9), dry runs, several copies at once and a run killed mid-way.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::models::{Address, Order};
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, Db, ManualClock, repo};
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};
use fulfillment_orders::{Actor, PolicyStore, merchants, release};
use fulfillment_policy::tracking_number::Channel;
use fulfillment_policy::tracking_status::TrackingStatus;
use fulfillment_tracking::tracking::{self, CancelledBy, IncomingEvent, Source};
use fulfillment_workers::reconcile::{
    self, AplusReset, CancellationDetector, DeadlineEnforcer, MerchantNotifier, ReReleaseDecider,
    Step, Summary,
};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn address(name: &str, country: &str) -> Address {
    Address {
        name: name.into(),
        street_address1: format!("{name} street 1"),
        city: "City".into(),
        zipcode: "00-001".into(),
        country: country.into(),
        ..Address::default()
    }
}

/// The WishPost number order `id` ships with.
fn number(id: &str) -> String {
    format!("WP{:0>12}", id.to_uppercase().replace('-', ""))
}

struct World {
    db: TestDb,
    pool: Db,
    clock: Arc<ManualClock>,
    policies: Arc<PolicyStore>,
    actor: Actor,
}

impl World {
    fn new(now: DateTime<Utc>) -> Self {
        let db = TestDb::new();
        let pool = Db::new(db.pool(6));
        Self {
            db,
            pool,
            clock: Arc::new(ManualClock::new(now)),
            policies: Arc::new(PolicyStore::new()),
            actor: Actor("test".into()),
        }
    }

    fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    fn merchant(&self, id: &str, country: &str) {
        merchants::upsert_merchant(&mut self.conn(), self.clock.now(), id, id, country).unwrap();
    }

    /// Releases `id` at `released`, ships it with WishPost `number` a day later, scanned two
    /// days later (confirmed), and has it cancelled by `by` at `cancelled`.
    #[allow(clippy::too_many_arguments)]
    fn shipped_then_cancelled(
        &self,
        merchant: &str,
        id: &str,
        aplus: bool,
        released: DateTime<Utc>,
        cancelled: DateTime<Utc>,
        by: CancelledBy,
        scanned: bool,
    ) {
        let mut conn = self.conn();
        let policy = self.policies.at(&mut conn, released).unwrap();
        let shipping = if aplus {
            address("A+ warehouse", "CN")
        } else {
            address("Alice", "US")
        };
        release::release_order(
            &mut conn,
            released,
            &policy,
            &self.actor,
            &ReleaseInput {
                order_id: id.into(),
                merchant_id: merchant.into(),
                released_at: Some(released),
                is_wish_express: false,
                is_advanced_logistics: aplus,
                shipping_detail: Some(shipping),
                customer_shipping_detail: Some(address("Alice", "US")),
                product_id: format!("p-{id}"),
                product_name: "Mug".into(),
                quantity: 1,
            },
        )
        .unwrap();
        let number = number(id);
        ship(
            &mut conn,
            released + Duration::days(1),
            &policy,
            &self.actor,
            &ShipRequest {
                merchant_id: merchant.into(),
                order_ids: vec![id.into()],
                tracking: TrackingInput {
                    tracking_number: number.clone(),
                    carrier: "wishpost".into(),
                    origin_country: "CN".into(),
                    channel: Channel::Api,
                },
                mode: ShipMode::Fulfil,
            },
        )
        .unwrap();
        if scanned {
            tracking::ingest(
                &mut conn,
                released + Duration::days(2),
                &self.actor,
                Source::Push,
                &[IncomingEvent {
                    carrier: "wishpost".into(),
                    tracking_number: number.clone(),
                    event_id: Some(format!("scan-{id}")),
                    occurred_at: released + Duration::days(2),
                    status: TrackingStatus::InTransit,
                    carrier_status_code: "20".into(),
                    carrier_status_text: "In transit".into(),
                    location: "Shenzhen".into(),
                    raw_payload: "{}".into(),
                }],
                None,
                None,
            )
            .unwrap();
        }
        tracking::cancel(
            &mut conn,
            cancelled,
            &self.actor,
            "wishpost",
            &number,
            by,
            cancelled,
        )
        .unwrap();
    }

    async fn run<S: Step>(&self) -> Summary {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 7, false)
            .await
            .unwrap()
            .0
    }

    async fn dry_run<S: Step>(&self) -> (Summary, Vec<String>) {
        let shared: Arc<dyn Clock> = self.clock.clone();
        reconcile::run::<S>(&self.pool, &shared, &self.policies, 7, true)
            .await
            .unwrap()
    }

    fn order(&self, id: &str) -> Order {
        use fulfillment_core::schema::orders;
        orders::table
            .find(id)
            .select(Order::as_select())
            .first(&mut self.conn())
            .unwrap()
    }

    fn events(&self, id: &str) -> Vec<String> {
        repo::audit::events_for_order(&mut self.conn(), id)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    fn outbox(&self, event_type: &str) -> Vec<String> {
        use fulfillment_core::schema::outbox;
        outbox::table
            .filter(outbox::event_type.eq(event_type))
            .order(outbox::id)
            .select(outbox::event_id)
            .load(&mut self.conn())
            .unwrap()
    }

    fn count(&self, sql: &str) -> i64 {
        diesel::dsl::sql::<diesel::sql_types::BigInt>(sql)
            .get_result(&mut self.conn())
            .unwrap()
    }
}

#[tokio::test]
async fn r16_re_release_under_25_calendar_days_refund_from_25() {
    let released = at(2026, 10, 1, 10, 0);
    let w = World::new(at(2026, 10, 27, 12, 0));
    w.merchant("m-cn", "CN");
    // 24 days 23 hours after the release, on the 24th calendar day: re-release.
    w.shipped_then_cancelled(
        "m-cn",
        "o-early",
        false,
        released,
        at(2026, 10, 25, 9, 0),
        CancelledBy::Carrier,
        true,
    );
    // Less than 25 x 24 hours, but on the 25th calendar day: refund.
    w.shipped_then_cancelled(
        "m-cn",
        "o-late",
        false,
        released,
        at(2026, 10, 26, 8, 0),
        CancelledBy::Carrier,
        true,
    );

    let detected = w.run::<CancellationDetector>().await;
    assert_eq!(
        (
            detected.claimed,
            detected.counts["flagged"],
            detected.counts["confirmed_removed"]
        ),
        (2, 2, 2)
    );
    // R15: flagged with the cancellation's date, confirmed date gone, still SHIPPED.
    let early = w.order("o-early");
    assert!(early.tracking_number_cancelled);
    assert_eq!(
        early.tracking_number_cancelled_date,
        Some(at(2026, 10, 25, 9, 0))
    );
    assert_eq!(early.state, "SHIPPED");

    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!(
        (decided.counts["re_release"], decided.counts["refund"]),
        (1, 1)
    );
    let now = w.clock.now();
    let early = w.order("o-early");
    assert_eq!(early.state, "APPROVED");
    assert!(early.is_re_released);
    assert_eq!(early.order_re_released_date, Some(now));
    assert_eq!(early.released_at, now);
    assert_eq!(
        early.initial_released_at, released,
        "R1: the first release is kept"
    );
    assert_eq!(early.fulfillment_deadline, now + Duration::days(5));
    assert_eq!(early.flags, ["TRACKING_NUMBER_CANCELLED"]);
    let late = w.order("o-late");
    assert_eq!(
        (late.state.as_str(), late.refund_reason.as_deref()),
        ("REFUNDED", Some("TRACKING_CANCELLED_LATE"))
    );
    // One audit row per decision, with its inputs; outbox rows for the other systems.
    assert_eq!(
        w.events("o-early"),
        ["released", "shipped", "tracking_cancelled", "re_released"]
    );
    assert_eq!(
        w.events("o-late"),
        ["released", "shipped", "tracking_cancelled", "refunded"]
    );
    let decision = repo::audit::events_for_order(&mut w.conn(), "o-late")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(decision.details["days_since_initial_release"], 25);
    assert_eq!(decision.details["threshold_days"], 25);
    assert_eq!(decision.actor, "worker:re-release-decider");
    assert_eq!(decision.policy_version, Some(1));
    assert_eq!(w.outbox("order.re_released").len(), 1);
    assert_eq!(w.outbox("refund.requested"), ["refund.requested:o-late"]);

    // Run again: nothing left to do.
    assert_eq!(w.run::<CancellationDetector>().await.claimed, 0);
    assert_eq!(w.run::<ReReleaseDecider>().await.claimed, 0);
    // The cancelled number is refused for the re-released order (R16).
    let mut conn = w.conn();
    let policy = w.policies.at(&mut conn, now).unwrap();
    let err = ship(
        &mut conn,
        now,
        &policy,
        &w.actor,
        &ShipRequest {
            merchant_id: "m-cn".into(),
            order_ids: vec!["o-early".into()],
            tracking: TrackingInput {
                tracking_number: number("o-early"),
                carrier: "wishpost".into(),
                origin_country: "CN".into(),
                channel: Channel::Api,
            },
            mode: ShipMode::Fulfil,
        },
    )
    .unwrap_err();
    assert_eq!(err.reason(), "TRACKING_NUMBER_CANCELLED");
}

#[tokio::test]
async fn r15_released_just_before_2020_11_10_keeps_its_confirmed_date() {
    let w = World::new(at(2020, 11, 25, 12, 0));
    w.merchant("m-cn", "CN");
    w.shipped_then_cancelled(
        "m-cn",
        "o-before",
        false,
        at(2020, 11, 9, 23, 59),
        at(2020, 11, 20, 0, 0),
        CancelledBy::Carrier,
        true,
    );
    w.shipped_then_cancelled(
        "m-cn",
        "o-on",
        false,
        at(2020, 11, 10, 0, 0),
        at(2020, 11, 20, 0, 0),
        CancelledBy::Carrier,
        true,
    );
    // Never scanned: no confirmed date to remove, so R15 does not apply.
    w.shipped_then_cancelled(
        "m-cn",
        "o-unscanned",
        false,
        at(2020, 11, 10, 0, 0),
        at(2020, 11, 20, 0, 0),
        CancelledBy::Carrier,
        false,
    );
    let detected = w.run::<CancellationDetector>().await;
    assert_eq!(
        (
            detected.counts["flagged"],
            detected.counts["not_applicable"]
        ),
        (1, 2)
    );
    assert!(!w.order("o-before").tracking_number_cancelled);
    assert!(w.order("o-on").tracking_number_cancelled);
    let removed = |id: &str| {
        w.count(&format!(
            "SELECT count(*) FROM order_trackings WHERE order_id = '{id}' AND confirmed_removed_at IS NOT NULL"
        ))
    };
    assert_eq!((removed("o-before"), removed("o-on")), (0, 1));
    // Before re-release started (2021-03-04): flag only, the merchant repairs the order (R4).
    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!((decided.claimed, decided.counts["flag_only"]), (1, 1));
    assert_eq!(w.order("o-on").state, "SHIPPED");
    assert_eq!(
        w.events("o-before"),
        ["released", "shipped", "tracking_cancelled_not_applicable"]
    );
    assert_eq!(
        w.events("o-on"),
        [
            "released",
            "shipped",
            "tracking_cancelled",
            "cancellation_flag_only"
        ]
    );
}

#[tokio::test]
async fn r18_a_plus_leaves_the_program_only_when_the_carrier_cancelled() {
    let released = at(2026, 11, 1, 10, 0);
    let w = World::new(at(2026, 11, 10, 12, 0));
    w.merchant("m-cn", "CN");
    w.shipped_then_cancelled(
        "m-cn",
        "o-carrier",
        true,
        released,
        at(2026, 11, 8, 0, 0),
        CancelledBy::Carrier,
        true,
    );
    w.shipped_then_cancelled(
        "m-cn",
        "o-merchant",
        true,
        released,
        at(2026, 11, 8, 0, 0),
        CancelledBy::Merchant,
        true,
    );
    w.run::<CancellationDetector>().await;
    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!(decided.counts["re_release"], 2);
    assert_eq!(decided.counts["left_aplus_program"], 1);

    // R18 in the re-release's own write: no moment with the warehouse address left to ship to.
    let carrier = w.order("o-carrier");
    assert_eq!(carrier.state, "APPROVED");
    assert!(!carrier.is_advanced_logistics);
    assert_eq!(carrier.flags, ["APLUS_TRACKING_NUMBER_CANCELLED"]);
    assert_eq!(carrier.shipping_detail(), address("Alice", "US"));
    let merchant = w.order("o-merchant");
    assert!(merchant.is_advanced_logistics);
    assert_eq!(merchant.flags, ["TRACKING_NUMBER_CANCELLED"]);
    assert_eq!(merchant.shipping_detail(), address("A+ warehouse", "CN"));
    assert_eq!(w.events("o-carrier").last().unwrap(), "re_released");
    // Nothing is left for aplus-reset.
    assert_eq!(w.run::<AplusReset>().await.claimed, 0);
}

#[tokio::test]
async fn r18_aplus_reset_settles_a_re_release_decided_without_its_aplus_part() {
    let released = at(2026, 11, 1, 10, 0);
    let w = World::new(at(2026, 11, 10, 12, 0));
    w.merchant("m-cn", "CN");
    for (order, by) in [
        ("o-carrier", CancelledBy::Carrier),
        ("o-merchant", CancelledBy::Merchant),
    ] {
        w.shipped_then_cancelled(
            "m-cn",
            order,
            true,
            released,
            at(2026, 11, 8, 0, 0),
            by,
            true,
        );
    }
    w.run::<CancellationDetector>().await;
    w.run::<ReReleaseDecider>().await;
    // As an earlier decider left them: re-released, still A+ at the warehouse, A+ part open.
    w.conn()
        .batch_execute(
            "UPDATE orders SET is_advanced_logistics = true, flags = '{TRACKING_NUMBER_CANCELLED}',
                 ship_name = 'A+ warehouse', ship_country = 'CN' WHERE id = 'o-carrier';
             UPDATE order_trackings SET aplus_reset_at = NULL, aplus_leaves = NULL",
        )
        .unwrap();
    let reset = w.run::<AplusReset>().await;
    assert_eq!((reset.claimed, reset.counts["reset"]), (2, 1));
    assert_eq!(reset.counts["stays"], 1);
    let carrier = w.order("o-carrier");
    assert!(!carrier.is_advanced_logistics);
    assert_eq!(
        carrier.flags,
        [
            "APLUS_TRACKING_NUMBER_CANCELLED",
            "TRACKING_NUMBER_CANCELLED"
        ]
    );
    assert_eq!(carrier.shipping_detail(), address("Alice", "US"));
    assert!(w.order("o-merchant").is_advanced_logistics);
    assert_eq!(w.events("o-carrier").last().unwrap(), "aplus_left_program");
    assert_eq!(w.run::<AplusReset>().await.claimed, 0);
}

#[tokio::test]
async fn r5_late_orders_are_refunded_with_a_violation_and_r9_one_digest_a_day() {
    let now = at(2026, 11, 23, 12, 0);
    let w = World::new(now);
    w.merchant("m-1", "US");
    w.merchant("m-2", "US");
    let mut conn = w.conn();
    let policy = w.policies.at(&mut conn, now).unwrap();
    for (id, released) in [
        ("o-late", now - Duration::days(5) - Duration::minutes(1)),
        ("o-on-time", now - Duration::days(5) + Duration::minutes(1)),
    ] {
        release::release_order(
            &mut conn,
            now,
            &policy,
            &w.actor,
            &ReleaseInput {
                order_id: id.into(),
                merchant_id: "m-1".into(),
                released_at: Some(released),
                is_wish_express: false,
                is_advanced_logistics: false,
                shipping_detail: Some(address("Alice", "US")),
                customer_shipping_detail: None,
                product_id: format!("p-{id}"),
                product_name: "Mug".into(),
                quantity: 1,
            },
        )
        .unwrap();
    }
    // A dry run says what it would do and changes nothing.
    let (dry, lines) = w.dry_run::<DeadlineEnforcer>().await;
    assert_eq!(dry.counts["refunded"], 1);
    assert!(
        lines[0].starts_with("order o-late: refund NOT_SHIPPED_IN_TIME"),
        "{lines:?}"
    );
    assert_eq!(w.order("o-late").state, "APPROVED");
    assert_eq!(w.count("SELECT count(*) FROM outbox"), 0);

    let enforced = w.run::<DeadlineEnforcer>().await;
    assert_eq!(enforced.counts["refunded"], 1);
    assert_eq!(
        w.order("o-late").refund_reason.as_deref(),
        Some("NOT_SHIPPED_IN_TIME")
    );
    assert_eq!(w.order("o-on-time").state, "APPROVED");
    assert_eq!(
        w.count("SELECT count(*) FROM merchant_violations WHERE order_id = 'o-late'"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM product_disable_candidates WHERE product_id = 'p-o-late'"),
        1
    );
    assert_eq!(w.outbox("refund.requested"), ["refund.requested:o-late"]);
    assert_eq!(w.run::<DeadlineEnforcer>().await.claimed, 0);

    // R9: one digest per merchant per day, however often the notifier runs.
    let first = w.run::<MerchantNotifier>().await;
    assert_eq!(
        (first.counts["notified"], first.counts["nothing_to_fulfil"]),
        (1, 1)
    );
    assert_eq!(w.run::<MerchantNotifier>().await.claimed, 0);
    w.clock.set(now + Duration::hours(11));
    assert_eq!(w.run::<MerchantNotifier>().await.claimed, 0);
    assert_eq!(
        w.outbox("merchant.notified"),
        ["merchant.notified:digest:m-1:2026-11-23"]
    );
    w.clock.set(now + Duration::days(1));
    assert_eq!(w.run::<MerchantNotifier>().await.counts["notified"], 1);
    assert_eq!(w.outbox("merchant.notified").len(), 2);
}

/// `n` CN orders released 10 days ago, shipped with WishPost, scanned, and cancelled by the
/// carrier 2 days ago, inserted set-wise (the scenario, not the path under test).
fn many_cancelled(conn: &mut PgConnection, n: usize) {
    conn.batch_execute(&format!(
        "INSERT INTO merchants (id, name, country) VALUES ('m-cn', 'M', 'CN');
         INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
             ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country, customer_shipping_detail)
         SELECT 'o-' || i, 'm-cn', 'SHIPPED', now() - interval '10 days', now() - interval '10 days',
                now() - interval '5 days', 'n', 's', 'c', 'z', 'US', '{{}}'
         FROM generate_series(1, {n}) i;
         INSERT INTO trackings (merchant_id, carrier, tracking_number, status, confirmed_fulfillment_at,
             cancelled_at, cancelled_by)
         SELECT 'm-cn', 'wishpost', 'WP' || lpad(i::text, 10, '0'), 'CANCELLED', now() - interval '8 days',
                now() - interval '2 days', 'CARRIER'
         FROM generate_series(1, {n}) i;
         INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late)
         SELECT 'o-' || i, t.id, 'CN', 'API', now() - interval '9 days', false
         FROM generate_series(1, {n}) i JOIN trackings t ON t.tracking_number = 'WP' || lpad(i::text, 10, '0');"
    ))
    .unwrap();
}

#[tokio::test]
async fn several_copies_at_once_decide_each_order_exactly_once() {
    let w = World::new(Utc::now());
    let n = 2000;
    many_cancelled(&mut w.conn(), n);
    let shared: Arc<dyn Clock> = Arc::new(fulfillment_core::SystemClock);
    let copies = |_: usize| {
        let db = Db::new(w.db.pool(2));
        let (clock, policies) = (shared.clone(), w.policies.clone());
        async move {
            reconcile::run::<CancellationDetector>(&db, &clock, &policies, 50, false)
                .await
                .unwrap()
                .0
        }
    };
    let runs = futures_join4(copies(0), copies(1), copies(2), copies(3)).await;
    let claimed: i64 = runs.iter().map(|s| s.claimed).sum();
    assert_eq!(claimed, n as i64);
    assert!(
        runs.iter().filter(|s| s.claimed > 0).count() >= 2,
        "the copies shared the work: {runs:?}"
    );
    let decide = |_: usize| {
        let db = Db::new(w.db.pool(2));
        let (clock, policies) = (shared.clone(), w.policies.clone());
        async move {
            reconcile::run::<ReReleaseDecider>(&db, &clock, &policies, 50, false)
                .await
                .unwrap()
                .0
        }
    };
    let runs = futures_join4(decide(0), decide(1), decide(2), decide(3)).await;
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

async fn futures_join4<T>(
    a: impl std::future::Future<Output = T>,
    b: impl std::future::Future<Output = T>,
    c: impl std::future::Future<Output = T>,
    d: impl std::future::Future<Output = T>,
) -> Vec<T> {
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    vec![a, b, c, d]
}

#[test]
fn a_run_killed_mid_way_then_rerun_leaves_nothing_half_done_or_doubled() {
    let w = World::new(Utc::now());
    let n = 3000;
    many_cancelled(&mut w.conn(), n);
    let binary = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cancellation-detector"))
            .args(args)
            .env("DATABASE_URL", w.db.url())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut victim = binary(&["--batch-size", "5"]);
    // Let it commit some batches, then SIGKILL it mid-run.
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    while w.count("SELECT count(*) FROM order_trackings WHERE cancellation_detected_at IS NOT NULL")
        < 50
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the detector made no progress"
        );
        std::thread::sleep(StdDuration::from_millis(20));
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    let done =
        w.count("SELECT count(*) FROM order_trackings WHERE cancellation_detected_at IS NOT NULL");
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
    let out = binary(&[]).wait_with_output().unwrap();
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Move {
    Detect,
    Decide,
    AplusReset,
    Ship,
}

fn permutations(items: &[Move]) -> Vec<Vec<Move>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

impl World {
    /// A ship attempt with a new WishPost number, as FulfillOrder makes it.
    fn try_ship(&self, merchant: &str, id: &str, attempt: usize) -> bool {
        let mut conn = self.conn();
        let now = self.clock.now();
        let policy = self.policies.at(&mut conn, now).unwrap();
        ship(
            &mut conn,
            now,
            &policy,
            &self.actor,
            &ShipRequest {
                merchant_id: merchant.into(),
                order_ids: vec![id.into()],
                tracking: TrackingInput {
                    tracking_number: number(&format!("{id}n{attempt}")),
                    carrier: "wishpost".into(),
                    origin_country: "CN".into(),
                    channel: Channel::Api,
                },
                mode: ShipMode::Fulfil,
            },
        )
        .is_ok()
    }
}

/// R18, no A+ window: the workers and a ship attempt in every order (24), each on its own
/// database. A ship attempt is accepted only once the decider has run, and then the order is
/// out of A+ and ships to the customer, never to the warehouse.
#[tokio::test]
async fn r18_no_interleaving_ships_a_carrier_cancelled_aplus_order_to_the_warehouse() {
    let orders = permutations(&[Move::Detect, Move::Decide, Move::AplusReset, Move::Ship]);
    assert_eq!(orders.len(), 24);
    for moves in orders {
        let w = World::new(at(2026, 11, 10, 12, 0));
        w.merchant("m-cn", "CN");
        w.shipped_then_cancelled(
            "m-cn",
            "o-aplus",
            true,
            at(2026, 11, 1, 10, 0),
            at(2026, 11, 8, 0, 0),
            CancelledBy::Carrier,
            true,
        );
        let mut decided = false;
        let mut shipped = false;
        for (i, step) in moves.iter().enumerate() {
            match step {
                Move::Detect => {
                    w.run::<CancellationDetector>().await;
                }
                Move::Decide => {
                    decided = w.run::<ReReleaseDecider>().await.counts.get("re_release")
                        == Some(&1)
                        || decided;
                }
                Move::AplusReset => {
                    w.run::<AplusReset>().await;
                }
                Move::Ship => {
                    let before = w.order("o-aplus");
                    shipped = w.try_ship("m-cn", "o-aplus", i);
                    assert_eq!(shipped, decided, "{moves:?}: accepted={shipped}");
                    if shipped {
                        assert!(!before.is_advanced_logistics, "{moves:?}");
                        assert_eq!(
                            before.shipping_detail(),
                            address("Alice", "US"),
                            "{moves:?}"
                        );
                    }
                }
            }
        }
        if !shipped {
            // Shipped too early (refused: still SHIPPED with the cancelled number), or a step ran
            // before its queue held the order; once every worker has run in order, the merchant
            // ships to the customer.
            w.run::<CancellationDetector>().await;
            w.run::<ReReleaseDecider>().await;
            w.run::<AplusReset>().await;
            let before = w.order("o-aplus");
            assert!(w.try_ship("m-cn", "o-aplus", 9), "{moves:?}");
            assert!(!before.is_advanced_logistics);
            assert_eq!(before.shipping_detail(), address("Alice", "US"));
        }
        let after = w.order("o-aplus");
        assert_eq!(after.state, "SHIPPED", "{moves:?}");
        assert_eq!(after.shipping_detail(), address("Alice", "US"), "{moves:?}");
    }
}

/// R18: a merchant-cancelled A+ order stays in the program and ships to the warehouse again.
#[tokio::test]
async fn r18_a_merchant_cancelled_aplus_order_ships_to_the_warehouse_again() {
    let w = World::new(at(2026, 11, 10, 12, 0));
    w.merchant("m-cn", "CN");
    w.shipped_then_cancelled(
        "m-cn",
        "o-aplus",
        true,
        at(2026, 11, 1, 10, 0),
        at(2026, 11, 8, 0, 0),
        CancelledBy::Merchant,
        true,
    );
    assert!(!w.try_ship("m-cn", "o-aplus", 0));
    w.run::<CancellationDetector>().await;
    w.run::<ReReleaseDecider>().await;
    w.run::<AplusReset>().await;
    let before = w.order("o-aplus");
    assert!(before.is_advanced_logistics);
    assert_eq!(before.shipping_detail(), address("A+ warehouse", "CN"));
    assert!(w.try_ship("m-cn", "o-aplus", 1));
}
