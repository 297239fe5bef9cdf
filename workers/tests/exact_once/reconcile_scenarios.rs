//! The reconciliation workers' scenarios for the exact-once suite: each seeds its work relative
//! to the database's `now()` and says how to count what is done, queued, half-done, and the exact
//! effects.

use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::testing::TestDb;

use crate::{Scenario, effect};

const RECONCILE_ARGS: [&str; 2] = ["--batch-size", "5"];
const RECONCILE_KILL_ARGS: [&str; 2] = ["--batch-size", "2"];

fn reconcile_scenario(worker: &'static str, binary: &'static str, db: TestDb) -> Scenario {
    Scenario {
        worker,
        binary,
        db,
        items: 0,
        args: RECONCILE_ARGS.to_vec(),
        kill_args: RECONCILE_KILL_ARGS.to_vec(),
        env: Vec::new(),
        done: String::new(),
        queued: String::new(),
        half_done: Vec::new(),
        effects: Vec::new(),
        after_kill: None,
        carrier: None,
    }
}

/// Runs the worker `binary` on `db` to its end, as the earlier workers' part of a scenario's
/// seed (what a later worker finds).
fn earlier_worker(binary: &str, db: &TestDb) {
    let out = Command::new(binary)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{binary}: {out:?}");
}

/// SQL: `n` APPROVED orders `<prefix>-<i>` of merchants `m-1`..`m-10`, order `i` released at
/// `released` (an SQL expression of `i`), due 5 days later (R5).
fn approved_orders(prefix: &str, n: i64, released: &str) -> String {
    format!(
        "INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
             fulfillment_deadline, ship_name, ship_street_address1, ship_city, ship_zipcode,
             ship_country, customer_shipping_detail, product_id)
         SELECT '{prefix}-' || i, 'm-' || (i % 10 + 1), 'APPROVED', r, r, r + interval '5 days',
                'Alice', '1 Main St', 'Springfield', '12345', 'US', '{CUSTOMER}', 'p-{prefix}-' || i
         FROM generate_series(1, {n}) i, LATERAL (SELECT {released} AS r) x;"
    )
}

/// Counts `1..=n` matching `keep` (the Rust side of a seed's `i % k` predicates).
fn how_many(n: i64, keep: impl Fn(i64) -> bool) -> i64 {
    i64::try_from((1..=n).filter(|&i| keep(i)).count()).unwrap()
}

const CUSTOMER: &str = r#"{"name": "Alice", "street_address1": "1 Main St", "city": "Springfield", "zipcode": "12345", "country": "US"}"#;

/// `n` orders `o-<i>` shipped with WishPost, scanned (confirmed) and cancelled 2 days ago:
/// merchant `m-us` when `i % us_every = 0` (else `m-cn`), released 40 days ago when
/// `i % late_every = 0` (else 10), A+ at the warehouse when `aplus`, cancelled by the merchant
/// when `i % merchant_every = 0` (else the carrier). 0 means never.
fn cancelled_orders(
    conn: &mut PgConnection,
    n: i64,
    us_every: i64,
    late_every: i64,
    aplus: bool,
    merchant_every: i64,
) {
    let every = |k: i64| {
        if k == 0 {
            "false".to_owned()
        } else {
            format!("i % {k} = 0")
        }
    };
    let (us, late, by_merchant) = (every(us_every), every(late_every), every(merchant_every));
    let ship = if aplus {
        "'A+ warehouse', 'A+ warehouse street 1', 'Shenzhen', '518000', 'CN'"
    } else {
        "'Alice', '1 Main St', 'Springfield', '12345', 'US'"
    };
    conn.batch_execute(&format!(
        "INSERT INTO merchants (id, name, country) VALUES ('m-cn', 'M', 'CN'), ('m-us', 'M', 'US');
         INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
             fulfillment_deadline, is_advanced_logistics, ship_name, ship_street_address1,
             ship_city, ship_zipcode, ship_country, customer_shipping_detail, product_id)
         SELECT 'o-' || i, CASE WHEN {us} THEN 'm-us' ELSE 'm-cn' END, 'SHIPPED', now() - age,
                now() - age, now() - age + interval '5 days', {aplus}, {ship}, '{CUSTOMER}', 'p-' || i
         FROM generate_series(1, {n}) i,
              LATERAL (SELECT CASE WHEN {late} THEN interval '40 days' ELSE interval '10 days' END AS age) a;
         INSERT INTO trackings (merchant_id, carrier, tracking_number, status,
             confirmed_fulfillment_at, cancelled_at, cancelled_by)
         SELECT o.merchant_id, 'wishpost', 'WP' || lpad(i::text, 10, '0'), 'CANCELLED',
                now() - interval '8 days', now() - interval '2 days',
                CASE WHEN {by_merchant} THEN 'MERCHANT' ELSE 'CARRIER' END
         FROM generate_series(1, {n}) i JOIN orders o ON o.id = 'o-' || i;
         INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late)
         SELECT 'o-' || i, t.id, 'CN', 'API', now() - interval '9 days', false
         FROM generate_series(1, {n}) i JOIN trackings t ON t.tracking_number = 'WP' || lpad(i::text, 10, '0');"
    ))
    .unwrap();
}

/// `cancellation-detector` (R15): each cancelled link flagged once, its confirmed date removed,
/// one `tracking_cancelled` audit row; it writes no outbox rows.
pub fn cancellation_detector() -> Scenario {
    let n = 400;
    let db = TestDb::new();
    cancelled_orders(&mut db.conn(), n, 5, 4, false, 0);
    let actor = "worker:cancellation-detector";
    Scenario {
        items: n,
        done: "SELECT count(*) FROM order_trackings WHERE cancellation_detected_at IS NOT NULL".into(),
        queued: "SELECT count(*) FROM order_trackings WHERE is_current AND cancellation_detected_at IS NULL".into(),
        half_done: vec![(
            "detected without its flag, removal or audit row, or undetected with one",
            format!(
                "SELECT count(*) FROM order_trackings ot JOIN orders o ON o.id = ot.order_id,
                 LATERAL (SELECT count(*) AS all_events,
                                 count(*) FILTER (WHERE actor = '{actor}' AND kind = 'tracking_cancelled') AS mine
                          FROM order_events e WHERE e.order_id = o.id) e
                 WHERE NOT CASE WHEN ot.cancellation_detected_at IS NULL
                   THEN e.all_events = 0 AND NOT o.tracking_number_cancelled AND ot.confirmed_removed_at IS NULL
                   ELSE e.all_events = 1 AND e.mine = 1 AND o.tracking_number_cancelled
                        AND o.tracking_number_cancelled_date IS NOT NULL
                        AND ot.confirmed_removed_at IS NOT NULL AND ot.cancellation_decided_at IS NULL
                        AND o.state = 'SHIPPED' END"
            ),
        )],
        effects: vec![
            effect(
                "tracking_cancelled audit rows",
                format!("SELECT count(*) FROM order_events WHERE actor = '{actor}' AND kind = 'tracking_cancelled'"),
                n,
            ),
            effect(
                "orders with a tracking_cancelled audit row",
                "SELECT count(DISTINCT order_id) FROM order_events WHERE kind = 'tracking_cancelled'",
                n,
            ),
            effect("audit rows of any kind", "SELECT count(*) FROM order_events", n),
            effect(
                "orders flagged tracking_number_cancelled",
                "SELECT count(*) FROM orders WHERE tracking_number_cancelled",
                n,
            ),
            effect(
                "confirmed dates removed",
                "SELECT count(*) FROM order_trackings WHERE confirmed_removed_at IS NOT NULL",
                n,
            ),
            effect("outbox rows", "SELECT count(*) FROM outbox", 0),
        ],
        ..reconcile_scenario(
            "cancellation-detector",
            env!("CARGO_BIN_EXE_cancellation-detector"),
            db,
        )
    }
}

/// `re-release-decider` (R16): every detected cancellation decided once, as the policy says:
/// `RE_RELEASE` (CN, under 25 days) with one `order.re_released`, `REFUND` (CN, 25 days or
/// more) with one `refund.requested`, `FLAG_ONLY` (US) with no outbox row; one audit row each.
pub fn re_release_decider() -> Scenario {
    let n = 400;
    let db = TestDb::new();
    cancelled_orders(&mut db.conn(), n, 5, 4, false, 0);
    let s = reconcile_scenario(
        "re-release-decider",
        env!("CARGO_BIN_EXE_re-release-decider"),
        db,
    );
    // The detector's work, as the decider finds it.
    earlier_worker(env!("CARGO_BIN_EXE_cancellation-detector"), &s.db);
    let flag_only = how_many(n, |i| i % 5 == 0);
    let refund = how_many(n, |i| i % 5 != 0 && i % 4 == 0);
    let re_release = n - flag_only - refund;
    let actor = "worker:re-release-decider";
    let kinds = |kind: &str| {
        format!("SELECT count(*) FROM order_events WHERE actor = '{actor}' AND kind = '{kind}'")
    };
    Scenario {
        items: n,
        done: "SELECT count(*) FROM order_trackings WHERE cancellation_decided_at IS NOT NULL"
            .into(),
        queued: "SELECT count(*) FROM order_trackings
                 WHERE cancellation_detected_at IS NOT NULL AND cancellation_decided_at IS NULL"
            .into(),
        half_done: vec![(
            "decided without its state, audit row or outbox row, or undecided with one",
            decided_half_done(actor),
        )],
        effects: vec![
            effect("re_released audit rows", kinds("re_released"), re_release),
            effect("refunded audit rows", kinds("refunded"), refund),
            effect(
                "cancellation_flag_only audit rows",
                kinds("cancellation_flag_only"),
                flag_only,
            ),
            effect(
                "orders with a decision audit row",
                format!(
                    "SELECT count(DISTINCT order_id) FROM order_events WHERE actor = '{actor}'"
                ),
                n,
            ),
            effect(
                "order.re_released outbox rows",
                "SELECT count(*) FROM outbox WHERE event_type = 'order.re_released'",
                re_release,
            ),
            effect(
                "refund.requested outbox rows",
                "SELECT count(*) FROM outbox WHERE event_type = 'refund.requested'",
                refund,
            ),
            effect(
                "outbox rows",
                "SELECT count(*) FROM outbox",
                re_release + refund,
            ),
            effect(
                "orders re-released",
                "SELECT count(*) FROM orders WHERE state = 'APPROVED' AND is_re_released",
                re_release,
            ),
            effect(
                "orders refunded TRACKING_CANCELLED_LATE",
                "SELECT count(*) FROM orders WHERE refund_reason = 'TRACKING_CANCELLED_LATE'",
                refund,
            ),
        ],
        ..s
    }
}

/// SQL: decisions without their state, audit row or outbox row, or undecided with one.
fn decided_half_done(actor: &str) -> String {
    format!(
        "SELECT count(*) FROM order_trackings ot JOIN orders o ON o.id = ot.order_id,
         LATERAL (SELECT count(*) AS n, min(kind) AS kind FROM order_events e
                  WHERE e.order_id = o.id AND e.actor = '{actor}') e,
         LATERAL (SELECT count(*) FILTER (WHERE event_type = 'order.re_released') AS rr,
                         count(*) FILTER (WHERE event_type = 'refund.requested') AS rf,
                         count(*) AS all_rows
                  FROM outbox x WHERE x.order_id = o.id) x
         WHERE NOT CASE
           WHEN ot.cancellation_decided_at IS NULL THEN e.n = 0 AND x.all_rows = 0
                AND o.state = 'SHIPPED' AND NOT o.is_re_released AND ot.is_current
                AND ot.cancellation_outcome IS NULL
           WHEN ot.cancellation_outcome = 'RE_RELEASE' THEN e.n = 1 AND e.kind = 're_released'
                AND x.rr = 1 AND x.all_rows = 1 AND o.state = 'APPROVED' AND o.is_re_released
                AND NOT ot.is_current AND o.fulfillment_deadline > now()
           WHEN ot.cancellation_outcome = 'REFUND' THEN e.n = 1 AND e.kind = 'refunded'
                AND x.rf = 1 AND x.all_rows = 1 AND o.state = 'REFUNDED'
                AND o.refund_reason = 'TRACKING_CANCELLED_LATE'
           WHEN ot.cancellation_outcome = 'FLAG_ONLY' THEN e.n = 1
                AND e.kind = 'cancellation_flag_only' AND x.all_rows = 0 AND o.state = 'SHIPPED'
           ELSE false END"
    )
}

/// `aplus-reset` (R18): re-releases of A+ orders decided without their A+ part (as an earlier
/// decider left them). Carrier-cancelled orders leave the program with the customer's address,
/// one `aplus_left_program` audit row and one `merchant.notified` outbox row; merchant-cancelled
/// ones stay, with neither; every link settled once.
pub fn aplus_reset() -> Scenario {
    let n = 400;
    let db = TestDb::new();
    cancelled_orders(&mut db.conn(), n, 0, 0, true, 3);
    let s = reconcile_scenario("aplus-reset", env!("CARGO_BIN_EXE_aplus-reset"), db);
    for binary in [
        env!("CARGO_BIN_EXE_cancellation-detector"),
        env!("CARGO_BIN_EXE_re-release-decider"),
    ] {
        earlier_worker(binary, &s.db);
    }
    let by_merchant = how_many(n, |i| i % 3 == 0);
    let by_carrier = n - by_merchant;
    let mut conn = s.db.conn();
    assert_eq!(
        s.count(
            &mut conn,
            "SELECT count(*) FROM order_trackings WHERE cancellation_outcome = 'RE_RELEASE'"
        ),
        n
    );
    // As a decider before the A+ part was written with the re-release left them: re-released,
    // still A+ at the warehouse, the A+ part open.
    conn.batch_execute(
        "UPDATE orders SET is_advanced_logistics = true, flags = '{TRACKING_NUMBER_CANCELLED}',
             ship_name = 'A+ warehouse', ship_street_address1 = 'A+ warehouse street 1',
             ship_city = 'Shenzhen', ship_zipcode = '518000', ship_country = 'CN';
         UPDATE order_trackings SET aplus_reset_at = NULL, aplus_leaves = NULL",
    )
    .unwrap();
    let actor = "worker:aplus-reset";
    let outbox = "event_type = 'merchant.notified' AND event_id LIKE 'merchant.notified:aplus_left_program:%'";
    Scenario {
        items: n,
        done: "SELECT count(*) FROM order_trackings WHERE aplus_reset_at IS NOT NULL".into(),
        queued: "SELECT count(*) FROM order_trackings
                 WHERE cancellation_outcome = 'RE_RELEASE' AND aplus_reset_at IS NULL"
            .into(),
        half_done: vec![(
            "settled without its reset, audit or outbox row, or unsettled with one",
            settled_half_done(actor, outbox),
        )],
        effects: vec![
            effect(
                "aplus_left_program audit rows",
                format!(
                    "SELECT count(*) FROM order_events WHERE actor = '{actor}' AND kind = 'aplus_left_program'"
                ),
                by_carrier,
            ),
            effect(
                "audit rows by aplus-reset",
                format!("SELECT count(*) FROM order_events WHERE actor = '{actor}'"),
                by_carrier,
            ),
            effect(
                "aplus_left_program outbox rows",
                format!("SELECT count(*) FROM outbox WHERE {outbox}"),
                by_carrier,
            ),
            effect(
                "orders out of A+",
                "SELECT count(*) FROM orders WHERE NOT is_advanced_logistics",
                by_carrier,
            ),
            effect(
                "merchant-cancelled orders still A+ at the warehouse",
                "SELECT count(*) FROM orders WHERE is_advanced_logistics AND ship_name = 'A+ warehouse'",
                by_merchant,
            ),
        ],
        ..s
    }
}

/// SQL: links settled without their reset, audit or outbox row, or unsettled with one.
fn settled_half_done(actor: &str, outbox: &str) -> String {
    format!(
        "SELECT count(*) FROM order_trackings ot JOIN orders o ON o.id = ot.order_id
         JOIN trackings t ON t.id = ot.tracking_id,
         LATERAL (SELECT count(*) AS n FROM order_events e
                  WHERE e.order_id = o.id AND e.actor = '{actor}') e,
         LATERAL (SELECT count(*) AS n FROM outbox x WHERE x.order_id = o.id AND {outbox}) x
         WHERE NOT CASE
           WHEN ot.aplus_reset_at IS NOT NULL AND t.cancelled_by = 'CARRIER'
           THEN ot.aplus_leaves AND NOT o.is_advanced_logistics AND o.ship_name = 'Alice'
                AND o.ship_country = 'US' AND e.n = 1 AND x.n = 1
                AND o.flags = '{{APLUS_TRACKING_NUMBER_CANCELLED,TRACKING_NUMBER_CANCELLED}}'
           ELSE (ot.aplus_reset_at IS NULL OR NOT ot.aplus_leaves) AND o.is_advanced_logistics
                AND o.ship_name = 'A+ warehouse' AND e.n = 0 AND x.n = 0
                AND o.flags = '{{TRACKING_NUMBER_CANCELLED}}' END"
    )
}

/// `deadline-enforcer` (R5): `APPROVED` orders past their deadline refunded once
/// (`NOT_SHIPPED_IN_TIME`) with one audit row, one `refund.requested`, one violation and one
/// disable candidate; orders still on time untouched.
pub fn deadline_enforcer() -> Scenario {
    let n = 400;
    let on_time = 100;
    let db = TestDb::new();
    db.conn()
        .batch_execute(&format!(
            "INSERT INTO merchants (id, name, country)
             SELECT 'm-' || i, 'M', 'US' FROM generate_series(1, 10) i;
             {}
             {}",
            approved_orders(
                "late",
                n,
                "now() - interval '6 days' - i * interval '1 minute'"
            ),
            approved_orders("ok", on_time, "now() - interval '1 day'"),
        ))
        .unwrap();
    let actor = "worker:deadline-enforcer";
    Scenario {
        items: n,
        done: "SELECT count(*) FROM orders WHERE id LIKE 'late-%' AND state = 'REFUNDED'".into(),
        queued: "SELECT count(*) FROM orders
                 WHERE id LIKE 'late-%' AND state = 'APPROVED' AND fulfillment_deadline < now()"
            .into(),
        half_done: vec![(
            "refunded without its audit, outbox, violation or candidate row, or approved with one",
            refunded_half_done(actor),
        )],
        effects: vec![
            effect(
                "refunded audit rows",
                format!(
                    "SELECT count(*) FROM order_events WHERE actor = '{actor}' AND kind = 'refunded'"
                ),
                n,
            ),
            effect(
                "audit rows of any kind",
                "SELECT count(*) FROM order_events",
                n,
            ),
            effect(
                "refund.requested outbox rows",
                "SELECT count(*) FROM outbox WHERE event_type = 'refund.requested'",
                n,
            ),
            effect("outbox rows", "SELECT count(*) FROM outbox", n),
            effect(
                "merchant violations",
                "SELECT count(*) FROM merchant_violations",
                n,
            ),
            effect(
                "product disable candidates",
                "SELECT count(*) FROM product_disable_candidates",
                n,
            ),
            effect(
                "orders refunded NOT_SHIPPED_IN_TIME",
                "SELECT count(*) FROM orders WHERE refund_reason = 'NOT_SHIPPED_IN_TIME'",
                n,
            ),
            effect(
                "orders on time still APPROVED",
                "SELECT count(*) FROM orders WHERE id LIKE 'ok-%' AND state = 'APPROVED'",
                on_time,
            ),
        ],
        ..reconcile_scenario(
            "deadline-enforcer",
            env!("CARGO_BIN_EXE_deadline-enforcer"),
            db,
        )
    }
}

/// SQL: orders refunded without their audit, outbox, violation or candidate row, or approved with one.
fn refunded_half_done(actor: &str) -> String {
    format!(
        "SELECT count(*) FROM orders o,
         LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE actor = '{actor}'
                         AND kind = 'refunded') AS mine
                  FROM order_events e WHERE e.order_id = o.id) e,
         LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE event_type = 'refund.requested') AS mine
                  FROM outbox x WHERE x.order_id = o.id) x,
         LATERAL (SELECT count(*) AS n FROM merchant_violations v WHERE v.order_id = o.id) v,
         LATERAL (SELECT count(*) AS n FROM product_disable_candidates p WHERE p.order_id = o.id) p
         WHERE NOT CASE o.state
           WHEN 'REFUNDED' THEN o.id LIKE 'late-%' AND o.refund_reason = 'NOT_SHIPPED_IN_TIME'
                AND e.n = 1 AND e.mine = 1 AND x.n = 1 AND x.mine = 1 AND v.n = 1 AND p.n = 1
           WHEN 'APPROVED' THEN e.n = 0 AND x.n = 0 AND v.n = 0 AND p.n = 0
           ELSE false END"
    )
}

/// `merchant-notifier` (R9): one `merchant_notifications` row per merchant and day, with its
/// count of `APPROVED` orders, and one `merchant.notified` outbox row when that count is not 0.
pub fn merchant_notifier() -> Scenario {
    let n = 400;
    let db = TestDb::new();
    // Merchant i has i % 3 APPROVED orders (so a third have nothing to fulfil) and, for even i,
    // a SHIPPED one that does not count.
    db.conn()
        .batch_execute(&format!(
            "INSERT INTO merchants (id, name, country)
             SELECT 'mn-' || lpad(i::text, 4, '0'), 'M', 'US' FROM generate_series(1, {n}) i;
             INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
                 fulfillment_deadline, ship_name, ship_street_address1, ship_city, ship_zipcode,
                 ship_country, customer_shipping_detail)
             SELECT 'o-' || i || '-' || k, 'mn-' || lpad(i::text, 4, '0'), 'APPROVED',
                    now() - interval '1 day', now() - interval '1 day', now() + interval '4 days',
                    'Alice', '1 Main St', 'Springfield', '12345', 'US', '{CUSTOMER}'
             FROM generate_series(1, {n}) i, generate_series(1, i % 3) k;
             INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
                 fulfillment_deadline, ship_name, ship_street_address1, ship_city, ship_zipcode,
                 ship_country, customer_shipping_detail)
             SELECT 'o-' || i || '-shipped', 'mn-' || lpad(i::text, 4, '0'), 'SHIPPED',
                    now() - interval '1 day', now() - interval '1 day', now() + interval '4 days',
                    'Alice', '1 Main St', 'Springfield', '12345', 'US', '{CUSTOMER}'
             FROM generate_series(2, {n}, 2) i;"
        ))
        .unwrap();
    let to_tell = how_many(n, |i| i % 3 != 0);
    Scenario {
        items: n,
        done: "SELECT count(*) FROM merchant_notifications".into(),
        queued: "SELECT count(*) FROM merchants m WHERE NOT EXISTS
                 (SELECT 1 FROM merchant_notifications n WHERE n.merchant_id = m.id)"
            .into(),
        half_done: vec![(
            "notified without its count or outbox row, twice, or not notified with one",
            "SELECT count(*) FROM merchants m,
             LATERAL (SELECT count(*) AS n, min(orders_to_fulfill) AS c FROM merchant_notifications n
                      WHERE n.merchant_id = m.id) n,
             LATERAL (SELECT count(*) AS n, min((payload->>'orders_to_fulfill')::int) AS c FROM outbox x
                      WHERE x.merchant_id = m.id AND x.event_type = 'merchant.notified') x,
             LATERAL (SELECT count(*) AS n FROM orders o
                      WHERE o.merchant_id = m.id AND o.state = 'APPROVED') o
             WHERE NOT CASE WHEN n.n = 0 THEN x.n = 0
                   WHEN o.n = 0 THEN n.n = 1 AND n.c = 0 AND x.n = 0
                   ELSE n.n = 1 AND n.c = o.n AND x.n = 1 AND x.c = o.n END"
                .into(),
        )],
        effects: vec![
            effect(
                "merchant_notifications rows",
                "SELECT count(*) FROM merchant_notifications",
                n,
            ),
            effect(
                "days notified",
                "SELECT count(DISTINCT day) FROM merchant_notifications",
                1,
            ),
            effect(
                "merchant.notified outbox rows",
                "SELECT count(*) FROM outbox WHERE event_type = 'merchant.notified'",
                to_tell,
            ),
            effect(
                "merchants with a merchant.notified row",
                "SELECT count(DISTINCT merchant_id) FROM outbox WHERE event_type = 'merchant.notified'",
                to_tell,
            ),
            effect("outbox rows", "SELECT count(*) FROM outbox", to_tell),
            effect("audit rows", "SELECT count(*) FROM order_events", 0),
        ],
        ..reconcile_scenario(
            "merchant-notifier",
            env!("CARGO_BIN_EXE_merchant-notifier"),
            db,
        )
    }
}
