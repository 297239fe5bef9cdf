//! Issue 21: the ship path runs its two statements on generic plans (`SET LOCAL
//! plan_cache_mode`), and gives the rest of the caller's transaction back PostgreSQL's own
//! choice: a bulk file's next rows and the idempotency record, and any read whose bound value
//! selects a partial index, must not inherit generic plans.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::Text;
use fulfillment_core::testing::TestDb;
use fulfillment_orders::demo::load_demo_data;
use fulfillment_orders::policies::PolicyStore;

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
