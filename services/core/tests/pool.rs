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
