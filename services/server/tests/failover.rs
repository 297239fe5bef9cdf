//! Issue 19.5: the primary of a pg_auto_failover formation dies under FulfillOrder load. Run by
//! `.ci/failover.sh`, which builds the formation (a monitor, a primary and a synchronous
//! secondary on this machine) and passes:
//!
//! - `FAILOVER_URL`: the multi-host URL the service uses (`target_session_attrs=read-write`);
//! - `FAILOVER_KILL`: a shell command that kills the primary (its keeper and its PostgreSQL);
//! - `FAILOVER_SECONDARY_URL`: the node that must be the primary afterwards.
//!
//! The service follows the new primary by itself; callers see only `UNAVAILABLE` during the
//! switch; every acknowledged call is on the new primary.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{alice, fulfil, release_request};
use diesel::prelude::*;
use fulfillment_core::{Clock, SystemClock, db};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_server::app::{self, ServeOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Channel;

const ORDERS: usize = 3000;
const CALLERS: usize = 8;

#[derive(Default)]
struct Outcome {
    acknowledged: Vec<String>,
    /// (began after the kill, code)
    failed: Vec<(bool, tonic::Code)>,
    first_ack_after_kill: Option<Instant>,
    acks_after_kill: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the pg_auto_failover formation of .ci/failover.sh"]
async fn the_service_follows_a_new_primary_and_loses_no_acknowledged_call() {
    let url = std::env::var("FAILOVER_URL").expect("FAILOVER_URL");
    let kill = std::env::var("FAILOVER_KILL").expect("FAILOVER_KILL");
    let secondary = std::env::var("FAILOVER_SECONDARY_URL").expect("FAILOVER_SECONDARY_URL");

    // The server runs until `_stop` goes, at the end of the test.
    let (client, _stop) = serve(&url).await;
    let ids = release_all(&client).await;
    let load = Load {
        queue: Arc::new(Mutex::new(ids.into_iter().collect::<VecDeque<_>>())),
        outcome: Arc::new(Mutex::new(Outcome::default())),
        killed_at: Arc::new(Mutex::new(None::<Instant>)),
    };
    let callers = start_callers(&client, &load);
    let kill_time = kill_under_load(&load, kill).await;
    load.queue.lock().unwrap().clear();
    for caller in callers {
        caller.await.unwrap();
    }

    let o = std::mem::take(&mut *load.outcome.lock().unwrap());
    callers_saw_only_unavailable(&o, kill_time);
    // Every acknowledged call is on the new primary, the former secondary.
    all_acknowledged_on(secondary, o.acknowledged.clone()).await;
}

/// The calls still to make, what they got, and when the primary was killed.
struct Load {
    queue: Arc<Mutex<VecDeque<String>>>,
    outcome: Arc<Mutex<Outcome>>,
    killed_at: Arc<Mutex<Option<Instant>>>,
}

/// The service in-process on `url` (migrated), a client of it, and what keeps it serving.
async fn serve(url: &str) -> (FulfillmentServiceClient<Channel>, watch::Sender<bool>) {
    let url = url.to_owned();
    let migrate = url.clone();
    tokio::task::spawn_blocking(move || db::run_migrations(&migrate).unwrap())
        .await
        .unwrap();
    let pool = db::build_pool(&url, 8).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = app::app_state(pool, clock);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(app::serve(
        listener,
        state,
        ServeOptions::default(),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let mut client = FulfillmentServiceClient::new(channel.clone());
    client
        .upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: "m-fo".into(),
                name: "Failover".into(),
                country: "US".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    (client, stop)
}

/// Releases the orders the callers then ship; their ids.
async fn release_all(client: &FulfillmentServiceClient<Channel>) -> Vec<String> {
    let released = chrono::Utc::now() - chrono::Duration::hours(1);
    let ids: Vec<String> = (0..ORDERS).map(|i| format!("fo-{i}")).collect();
    for chunk in ids.chunks(ORDERS / CALLERS) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|id| {
                let mut c = client.clone();
                let request = release_request("m-fo", id, released, alice());
                async move { c.release_order(request).await.unwrap() }
            })
            .collect();
        for call in calls {
            call.await;
        }
    }
    println!("released {ORDERS} orders through the formation's primary");

    ids
}

/// CALLERS tasks shipping the queued orders until the queue is empty.
fn start_callers(
    client: &FulfillmentServiceClient<Channel>,
    load: &Load,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (queue, outcome, killed_at) = (&load.queue, &load.outcome, &load.killed_at);
    (0..CALLERS)
        .map(|_| {
            let mut c = client.clone();
            let (queue, outcome, killed_at) = (queue.clone(), outcome.clone(), killed_at.clone());
            tokio::spawn(async move {
                loop {
                    let Some(id) = queue.lock().unwrap().pop_front() else {
                        return;
                    };
                    let number = format!("94001118992233{:08}", &id[3..].parse::<u32>().unwrap());
                    let began_after_kill = killed_at.lock().unwrap().is_some();
                    let answer = c.fulfill_order(fulfil("m-fo", &id, "usps", &number)).await;
                    let mut o = outcome.lock().unwrap();
                    match answer {
                        Ok(_) => {
                            o.acknowledged.push(id);
                            if began_after_kill {
                                o.acks_after_kill += 1;
                                o.first_ack_after_kill.get_or_insert_with(Instant::now);
                            }
                        }
                        // Not retried: the order's outcome is unknown to this caller (the
                        // COMMIT may have landed); only acknowledged calls are checked.
                        Err(e) => o.failed.push((began_after_kill, e.code())),
                    }
                }
            })
        })
        .collect()
}

/// Kills the primary once the load runs, then waits for the calls to flow again; when it was
/// killed.
async fn kill_under_load(load: &Load, kill: String) -> Instant {
    let (queue, outcome, killed_at) = (&load.queue, &load.outcome, &load.killed_at);
    let deadline = Instant::now() + Duration::from_secs(20);
    while outcome.lock().unwrap().acknowledged.len() < 200 {
        assert!(Instant::now() < deadline, "no load before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kill_time = Instant::now();
    *killed_at.lock().unwrap() = Some(kill_time);
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .args(["-c", &kill])
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "FAILOVER_KILL failed: {status}");
    println!("primary killed");
    let deadline = Instant::now() + Duration::from_secs(240);
    while outcome.lock().unwrap().acks_after_kill < 300 && !queue.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "calls did not resume on the new primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill_time
}

/// The switch's figures; and no caller saw anything but UNAVAILABLE meanwhile.
fn callers_saw_only_unavailable(o: &Outcome, kill_time: Instant) {
    let switch = o
        .first_ack_after_kill
        .map(|t| t.duration_since(kill_time))
        .unwrap();
    println!(
        "failover: {} acknowledged, {} failed ({} begun after the kill), first success {:.1} s after the kill",
        o.acknowledged.len(),
        o.failed.len(),
        o.failed.iter().filter(|f| f.0).count(),
        switch.as_secs_f64()
    );
    let codes: std::collections::BTreeMap<String, usize> =
        o.failed.iter().fold(Default::default(), |mut m, (_, c)| {
            *m.entry(format!("{c:?}")).or_default() += 1;
            m
        });
    println!("failed calls by code: {codes:?}");
    for (_, code) in &o.failed {
        assert_eq!(
            *code,
            tonic::Code::Unavailable,
            "callers see only UNAVAILABLE during the switch: {:?}",
            o.failed
        );
    }
}

/// Every id in `acknowledged` is shipped on `secondary`, which is the primary now.
async fn all_acknowledged_on(secondary: String, acknowledged: Vec<String>) {
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&secondary).unwrap();
        let read_only: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_setting('transaction_read_only')",
        ))
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(read_only, "off", "the former secondary is the primary now");
        use fulfillment_core::schema::orders;
        let shipped: std::collections::HashSet<String> = orders::table
            .filter(orders::merchant_id.eq("m-fo"))
            .filter(orders::state.eq("SHIPPED"))
            .select(orders::id)
            .load(&mut conn)
            .unwrap()
            .into_iter()
            .collect();
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|id| !shipped.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "acknowledged but not on the new primary: {lost:?}"
        );
        println!(
            "all {} acknowledged calls are on the new primary",
            acknowledged.len()
        );
    })
    .await
    .unwrap();
}
