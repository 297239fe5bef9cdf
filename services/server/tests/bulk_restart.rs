//! A bulk job survives its server being killed mid-way (R7): the real server binary is
//! SIGKILLed while applying a 2,000-row upload, a second one takes the job over when the lease
//! runs out, and every order ends up shipped exactly once: no row lost, none applied twice.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fulfillment_core::testing::TestDb;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;

const ORDERS: usize = 2000;

struct Server(Child, String);

impl Server {
    fn start(database_url: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .args([
                "--listen",
                &addr,
                "--webhook-listen",
                "127.0.0.1:0",
                "--bulk-lease-secs",
                "2",
            ])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "server did not start");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("Intelipost webhook") => break,
                Some(Ok(_)) => {}
                _ => panic!("server exited: {:?}", child.try_wait()),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Self(child, format!("http://{addr}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_no_row_lost_or_applied_twice() {
    let db = TestDb::new();
    let mut conn = db.conn();
    seed(&mut conn);
    let mut file = String::from("Order ID,Carrier,Tracking Number,Origin Country\n");
    for i in 1..=ORDERS {
        file.push_str(&format!("o-{i},USPS,94001118992233{i:08},CN\n"));
    }

    let first = Server::start(db.url());
    let mut client = FulfillmentServiceClient::connect(first.1.clone())
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
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the job never started");
        let done = count(
            &mut conn,
            "SELECT count(*) AS n FROM bulk_job_rows WHERE outcome <> 'PENDING'",
        );
        if done >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first);
    let at_kill = count(
        &mut conn,
        "SELECT count(*) AS n FROM bulk_job_rows WHERE outcome <> 'PENDING'",
    );
    assert!(
        (at_kill as usize) < ORDERS,
        "killed after the end ({at_kill} rows): the test proves nothing"
    );
    // What was applied and what is recorded agree at the moment of the crash.
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM orders WHERE state = 'SHIPPED'"
        ),
        at_kill
    );

    let second = Server::start(db.url());
    let mut client = FulfillmentServiceClient::connect(second.1.clone())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        assert!(Instant::now() < deadline, "the job was not taken over");
        let job = client
            .get_bulk_job(pb::GetBulkJobRequest {
                merchant_id: "m-1".into(),
                job_id: job.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap();
        if job.state == pb::BulkJobState::Completed as i32 {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (job.accepted_rows, job.rejected_rows),
        (ORDERS as i64, 0),
        "{job:?}"
    );
    let n = ORDERS as i64;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM orders WHERE state = 'SHIPPED'"
        ),
        n
    );
    // Exactly one ship audit row and one customer notification per order (R7, R9).
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM order_events WHERE state_after = 'SHIPPED'"
        ),
        n
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(DISTINCT order_id) AS n FROM order_events WHERE state_after = 'SHIPPED'"
        ),
        n
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM outbox WHERE event_type = 'customer.notified'"
        ),
        n
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bulk_job_rows WHERE outcome = 'ACCEPTED'"
        ),
        n
    );
}
