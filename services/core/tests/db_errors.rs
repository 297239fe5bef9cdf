//! Issue 19.1: what a database error means to the caller, from real PostgreSQL errors: lost
//! races are ABORTED (retryable), a concurrent insert ALREADY_EXISTS, a missing reference
//! FAILED_PRECONDITION, a missing row NOT_FOUND; never PostgreSQL's own text in the message.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_core::ServiceError;
use fulfillment_core::testing::TestDb;

fn setup(db: &TestDb) -> PgConnection {
    let mut conn = db.conn();
    conn.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
         CREATE TABLE child (t_id int NOT NULL REFERENCES t (id));
         INSERT INTO t (id) VALUES (1), (2);",
    )
    .unwrap();
    conn
}

/// Nothing of PostgreSQL's wording (constraint names, values, process ids) reaches the caller.
fn assert_our_words(error: &ServiceError) {
    let text = error.to_string();
    for theirs in [
        "duplicate key",
        "violates",
        "deadlock detected",
        "Process",
        "t_pkey",
        "serialize",
    ] {
        assert!(!text.contains(theirs), "{theirs:?} in {text:?}");
    }
}

#[test]
fn a_concurrent_insert_is_already_exists_and_a_missing_reference_a_failed_precondition() {
    let db = TestDb::new();
    let mut conn = setup(&db);
    let unique = diesel::sql_query("INSERT INTO t (id) VALUES (1)")
        .execute(&mut conn)
        .unwrap_err();
    let unique = ServiceError::from(unique);
    assert!(
        matches!(unique, ServiceError::AlreadyExists { .. }),
        "{unique:?}"
    );
    assert_our_words(&unique);

    let fk = diesel::sql_query("INSERT INTO child (t_id) VALUES (99)")
        .execute(&mut conn)
        .unwrap_err();
    let fk = ServiceError::from(fk);
    assert!(
        matches!(
            fk,
            ServiceError::FailedPrecondition {
                reason: "REFERENCED_RECORD_MISSING",
                ..
            }
        ),
        "{fk:?}"
    );
    assert_our_words(&fk);

    let missing = diesel::sql_query("SELECT 1 AS n FROM t WHERE id = 99")
        .get_result::<Count>(&mut conn)
        .unwrap_err();
    let missing = ServiceError::from(missing);
    assert!(
        matches!(missing, ServiceError::NotFound { .. }),
        "{missing:?}"
    );
    assert_eq!(missing.reason(), "NOT_FOUND");

    // A statement PostgreSQL refuses for a reason of ours stays INTERNAL.
    let ours = diesel::sql_query("SELECT no_such_column FROM t")
        .execute(&mut conn)
        .unwrap_err();
    assert!(matches!(
        ServiceError::from(ours),
        ServiceError::Internal(_)
    ));
}

#[derive(Debug, QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)] // read by Diesel only
    n: i32,
}

#[test]
fn a_deadlock_is_aborted_and_retryable_in_our_words() {
    let db = TestDb::new();
    let mut a = setup(&db);
    let mut b = db.conn();
    a.batch_execute("BEGIN; UPDATE t SET n = n + 1 WHERE id = 1")
        .unwrap();
    b.batch_execute("BEGIN; UPDATE t SET n = n + 1 WHERE id = 2")
        .unwrap();
    // A waits for B's row; then B asks for A's row, and PostgreSQL fails one of them.
    let waiter = std::thread::spawn(move || {
        let r = a.batch_execute("UPDATE t SET n = n + 1 WHERE id = 2");
        let _ = a.batch_execute("ROLLBACK");
        r
    });
    // Wait (with a deadline) until A is really blocked on B, so the cycle is certain.
    let mut watcher = db.conn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .get_result(&mut watcher)
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "A never waited on B");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mine = b.batch_execute("UPDATE t SET n = n + 1 WHERE id = 1");
    let _ = b.batch_execute("ROLLBACK");
    let theirs = waiter.join().unwrap();
    let error = mine
        .err()
        .or(theirs.err())
        .expect("PostgreSQL broke the cycle");
    let error = ServiceError::from(error);
    assert!(
        matches!(
            error,
            ServiceError::Aborted {
                reason: "DEADLOCK",
                ..
            }
        ),
        "{error:?}"
    );
    assert_our_words(&error);
}

#[test]
fn a_serialization_failure_is_aborted_without_postgresql_text() {
    let db = TestDb::new();
    let mut a = setup(&db);
    let mut b = db.conn();
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT n FROM t WHERE id = 1")
        .unwrap();
    b.batch_execute("UPDATE t SET n = 5 WHERE id = 1").unwrap();
    let error = a
        .batch_execute("UPDATE t SET n = 6 WHERE id = 1")
        .unwrap_err();
    let error = ServiceError::from(error);
    assert!(
        matches!(
            error,
            ServiceError::Aborted {
                reason: "CONCURRENT_UPDATE",
                ..
            }
        ),
        "{error:?}"
    );
    assert_our_words(&error);
}
