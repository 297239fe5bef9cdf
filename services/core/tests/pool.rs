//! The pool as the server builds it.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use diesel::RunQueryDsl;
use fulfillment_core::testing::TestDb;

#[test]
fn pooled_connections_carry_the_statement_timeout() {
    let db = TestDb::new();
    let pool = fulfillment_core::db::build_pool_with_statement_timeout(
        db.url(),
        1,
        Some(std::time::Duration::from_millis(200)),
    )
    .unwrap();
    let mut conn = pool.get().unwrap();
    let slow = diesel::sql_query("SELECT pg_sleep(2)").execute(&mut conn);
    let err = slow.unwrap_err().to_string();
    assert!(err.contains("statement timeout"), "{err}");
}

fn plan_cache_mode(conn: &mut diesel::PgConnection) -> String {
    use diesel::sql_types::Text;
    diesel::select(diesel::dsl::sql::<Text>(
        "current_setting('plan_cache_mode')",
    ))
    .get_result(conn)
    .unwrap()
}

/// Issue 21: the ship RPCs' transaction begins on generic plans in `BEGIN`'s own round trip,
/// and the setting ends with it, committed or rolled back: the pooled connection's next
/// transaction (here the only connection) plans as PostgreSQL chooses.
#[tokio::test]
async fn a_transaction_begun_on_generic_plans_ends_them_with_it() {
    let db = TestDb::new();
    let pooled = fulfillment_core::db::Db::new(db.pool(1));
    let inside = pooled
        .transaction_on_generic_plans(|conn| Ok(plan_cache_mode(conn)))
        .await
        .unwrap();
    assert_eq!(inside, "force_generic_plan");
    let after_commit = pooled
        .transaction(|conn| Ok(plan_cache_mode(conn)))
        .await
        .unwrap();
    assert_eq!(after_commit, "auto");
    let refused = pooled
        .transaction_on_generic_plans(|_| {
            Err::<(), _>(fulfillment_core::ServiceError::not_found("order", "o-1"))
        })
        .await;
    assert!(matches!(
        refused,
        Err(fulfillment_core::ServiceError::NotFound { .. })
    ));
    let after_rollback = pooled
        .transaction(|conn| Ok(plan_cache_mode(conn)))
        .await
        .unwrap();
    assert_eq!(after_rollback, "auto");
}
