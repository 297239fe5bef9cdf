//! A bulk job survives its server being killed mid-way (R7): the real server binary is
//! SIGKILLed while applying a 2,000-row upload, a second one takes the job over when the lease
//! runs out, and every order ends up shipped exactly once: no row lost, none applied twice.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::bulk_job;
use common::child::{ServerChild, server_command};
use common::wait::wait_until_async;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fulfillment_core::testing::TestDb;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;

const ORDERS: usize = 2000;

/// The binary with a 2 s bulk lease, so a second copy takes a dead one's job over quickly.
fn start_server(database_url: &str) -> ServerChild {
    let mut command = server_command();
    command
        .args(["--bulk-lease-secs", "2"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    ServerChild::start(command)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

fn seed(conn: &mut PgConnection) {
    // Orders as ReleaseOrder leaves them (released a day ago, 5 days to ship); seeded in one
    // statement so the test spends its time on the bulk job.
    conn.batch_execute(&format!(
        "INSERT INTO merchants (id, name, country) VALUES ('m-1', 'Merchant 1', 'US');
         INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at,
                             fulfillment_deadline, ship_name, ship_street_address1, ship_city,
                             ship_zipcode, ship_country, customer_shipping_detail)
         SELECT 'o-' || i, 'm-1', 'APPROVED', now() - interval '1 day', now() - interval '1 day',
                now() + interval '4 days', 'Alice', '1 Main St', 'Springfield', '62701', 'US',
                '{{\"name\": \"Alice\"}}'::jsonb
         FROM generate_series(1, {ORDERS}) AS i;"
    ))
    .unwrap();
}

const APPLIED: &str = "SELECT count(*) AS n FROM bulk_job_rows WHERE outcome <> 'PENDING'";
const SHIPPED: &str = "SELECT count(*) AS n FROM orders WHERE state = 'SHIPPED'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_no_row_lost_or_applied_twice() {
    let db = TestDb::new();
    let mut conn = db.conn();
    seed(&mut conn);
    let mut file = String::from("Order ID,Carrier,Tracking Number,Origin Country\n");
    for i in 1..=ORDERS {
        file.push_str(&format!("o-{i},USPS,94001118992233{i:08},CN\n"));
    }

    let first = start_server(db.url());
    let mut client = FulfillmentServiceClient::connect(first.url())
        .await
        .unwrap();
    let job = client
        .start_bulk_fulfillment(pb::StartBulkFulfillmentRequest {
            merchant_id: "m-1".into(),
            csv: file.into_bytes(),
            file_name: "big.csv".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();

    // Kill it once it has applied some rows, well before the end.
    wait_until_async("the job starts", Duration::from_secs(60), || {
        let done = count(&mut conn, APPLIED);
        async move { (done >= 100).then_some(()) }
    })
    .await;
    drop(first);
    applied_and_recorded_agree_at_the_kill(&mut conn);

    let second = start_server(db.url());
    let job = completed(&second, &job.id).await;
    assert_eq!(
        (job.accepted_rows, job.rejected_rows),
        (ORDERS as i64, 0),
        "{job:?}"
    );
    every_order_shipped_exactly_once(&mut conn);
}

fn applied_and_recorded_agree_at_the_kill(conn: &mut PgConnection) {
    let at_kill = count(conn, APPLIED);
    assert!(
        (at_kill as usize) < ORDERS,
        "killed after the end ({at_kill} rows): the test proves nothing"
    );
    // What was applied and what is recorded agree at the moment of the crash.
    assert_eq!(count(conn, SHIPPED), at_kill);
}

/// The job as `server` reports it once completed (taken over when the dead copy's lease ran
/// out).
async fn completed(server: &ServerChild, job_id: &str) -> pb::BulkJob {
    let client = FulfillmentServiceClient::connect(server.url())
        .await
        .unwrap();
    wait_until_async("the job is taken over", Duration::from_secs(120), || {
        let mut client = client.clone();
        async move {
            let job = bulk_job(&mut client, "m-1", job_id).await;
            (job.state == pb::BulkJobState::Completed as i32).then_some(job)
        }
    })
    .await
}

fn every_order_shipped_exactly_once(conn: &mut PgConnection) {
    let n = ORDERS as i64;
    assert_eq!(count(conn, SHIPPED), n);
    // Exactly one ship audit row and one customer notification per order (R7, R9).
    assert_eq!(
        count(
            conn,
            "SELECT count(*) AS n FROM order_events WHERE state_after = 'SHIPPED'"
        ),
        n
    );
    assert_eq!(
        count(
            conn,
            "SELECT count(DISTINCT order_id) AS n FROM order_events WHERE state_after = 'SHIPPED'"
        ),
        n
    );
    assert_eq!(
        count(
            conn,
            "SELECT count(*) AS n FROM outbox WHERE event_type = 'customer.notified'"
        ),
        n
    );
    assert_eq!(
        count(
            conn,
            "SELECT count(*) AS n FROM bulk_job_rows WHERE outcome = 'ACCEPTED'"
        ),
        n
    );
}
