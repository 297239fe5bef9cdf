//! Every migration goes down as cleanly as it goes up, and the constraints hold the invariants
//! the code relies on.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel_migrations::MigrationHarness;
use fulfillment_core::db::MIGRATIONS;
use fulfillment_core::testing::TestDb;

/// The kind, message and constraint of the database error `result` must be.
fn refusal(result: QueryResult<usize>) -> (DatabaseErrorKind, String, Option<String>) {
    match result {
        Err(Error::DatabaseError(kind, info)) => (
            kind,
            info.message().to_owned(),
            info.constraint_name().map(str::to_owned),
        ),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[test]
fn every_migration_reverts_and_reapplies() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let applied = conn.applied_migrations().unwrap().len();
    assert!(applied >= 3);
    conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert!(conn.applied_migrations().unwrap().is_empty());
    let tables: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(tables, 0, "down.sql leaves nothing behind");
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    assert_eq!(conn.applied_migrations().unwrap().len(), applied);
}

/// A merchant `m` and its APPROVED order `o`, the least the constraint tests need.
const ONE_APPROVED_ORDER: &str = "
    INSERT INTO merchants (id, name, country) VALUES ('m', 'M', 'US');
    INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
        ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country, customer_shipping_detail)
    VALUES ('o', 'm', 'APPROVED', now(), now(), now(), 'n', 's', 'c', 'z', 'US', '{}');";

/// A fresh database holding [`ONE_APPROVED_ORDER`].
fn one_approved_order() -> TestDb {
    let db = TestDb::new();
    db.conn().batch_execute(ONE_APPROVED_ORDER).unwrap();
    db
}

#[test]
fn order_events_are_append_only() {
    let db = one_approved_order();
    let mut conn = db.conn();
    conn.batch_execute(
        "INSERT INTO order_events (order_id, merchant_id, actor, kind, state_after, occurred_at)
         VALUES ('o', 'm', 'test', 'released', 'APPROVED', now());",
    )
    .unwrap();
    for (what, sql) in [
        ("edited", "UPDATE order_events SET kind = 'edited'"),
        ("deleted", "DELETE FROM order_events"),
    ] {
        let (kind, message, _) = refusal(diesel::sql_query(sql).execute(&mut conn));
        assert!(
            matches!(kind, DatabaseErrorKind::Unknown),
            "an audit row cannot be {what}: {kind:?}"
        );
        assert_eq!(message, "order_events is append-only", "{what}");
    }
}

#[test]
fn a_refunded_order_must_say_why() {
    let db = one_approved_order();
    let mut conn = db.conn();
    let no_reason = diesel::sql_query("UPDATE orders SET state = 'REFUNDED'").execute(&mut conn);
    // The unnamed `(state = 'REFUNDED') = (refund_reason IS NOT NULL)`, as PostgreSQL names it.
    let (kind, message, constraint) = refusal(no_reason);
    assert!(
        matches!(kind, DatabaseErrorKind::CheckViolation),
        "{kind:?}: {message}"
    );
    assert_eq!(constraint.as_deref(), Some("orders_check1"), "{message}");
    diesel::sql_query(
        "UPDATE orders SET state = 'REFUNDED', refund_reason = 'NOT_SHIPPED_IN_TIME'",
    )
    .execute(&mut conn)
    .unwrap();
}
