//! Issue 21: the ship path runs its two statements on generic plans (`SET LOCAL
//! plan_cache_mode`). `ship` gives the rest of the caller's transaction back PostgreSQL's own
//! choice: a bulk file's next rows, and any read whose bound value selects a partial index,
//! must not inherit generic plans. `ship_with_plans` on `Plans::GenericThroughout` (the gRPC calls, whose transaction
//! began on generic plans) leaves them on: nothing but the idempotency record follows.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::Text;
use fulfillment_core::prepared;
use fulfillment_core::testing::TestDb;
use fulfillment_orders::demo::load_demo_data;
use fulfillment_orders::input::{Actor, TrackingInput};
use fulfillment_orders::policies::PolicyStore;
use fulfillment_orders::ship::{Plans, ShipMode, ShipRequest, ship_with_plans};
use fulfillment_policy::tracking_number::Channel;

fn plan_cache_mode(conn: &mut PgConnection) -> String {
    diesel::select(diesel::dsl::sql::<Text>(
        "current_setting('plan_cache_mode')",
    ))
    .get_result(conn)
    .unwrap()
}

#[test]
fn shipping_leaves_the_transaction_on_postgresqls_own_plan_choice() {
    let db = TestDb::new();
    let mut conn = db.conn();
    conn.transaction(|conn| {
        assert_eq!(plan_cache_mode(conn), "auto");
        let now = Utc::now();
        let policy = PolicyStore::new().at(conn, now)?;
        // The demo data releases orders and ships some of them through `ship`.
        let summary = load_demo_data(conn, now, &policy)?;
        assert!(summary.orders_created > 0, "the demo shipped nothing");
        assert_eq!(plan_cache_mode(conn), "auto", "ship left generic plans on");
        Ok::<_, fulfillment_core::ServiceError>(())
    })
    .unwrap();
}

#[test]
fn shipping_on_generic_plans_leaves_them_on_and_ships() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = Utc::now();
    let policy = PolicyStore::new().at(&mut conn, now).unwrap();
    load_demo_data(&mut conn, now, &policy).unwrap();
    let (order_id, merchant_id): (String, String) = diesel::sql_query(
        "SELECT id, merchant_id FROM orders WHERE state = 'APPROVED' ORDER BY id LIMIT 1",
    )
    .get_result::<ApprovedOrder>(&mut conn)
    .map(|o| (o.id, o.merchant_id))
    .unwrap();
    let request = ShipRequest {
        merchant_id,
        order_ids: vec![order_id.clone()],
        tracking: TrackingInput {
            tracking_number: "9400111899223334445521".into(),
            carrier: "usps".into(),
            origin_country: "US".into(),
            channel: Channel::Api,
        },
        mode: ShipMode::Fulfil,
    };
    conn.transaction(|conn| {
        prepared::generic_plans(conn)?;
        let outcome = ship_with_plans(
            conn,
            (now, Plans::GenericThroughout),
            &policy,
            &Actor::api("test"),
            &request,
        )?;
        assert_eq!(outcome.orders[0].order.id, order_id);
        assert_eq!(outcome.orders[0].order.state, "SHIPPED");
        assert_eq!(plan_cache_mode(conn), "force_generic_plan");
        Ok::<_, fulfillment_core::ServiceError>(())
    })
    .unwrap();
    // SET LOCAL ends with the transaction: the connection's next one plans as PostgreSQL chooses.
    assert_eq!(plan_cache_mode(&mut conn), "auto");
}

#[derive(QueryableByName)]
struct ApprovedOrder {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    merchant_id: String,
}
