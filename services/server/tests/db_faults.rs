//! Issue 19.2 and 19.3: PostgreSQL goes away and comes back. Each test has a private cluster of
//! its own (the same bootstrap the server uses), so it can stop and start the server under a
//! running gRPC service without touching anything else.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulfillment_core::pg_bootstrap::{
    BootstrapConfig, BootstrapError, PgTarget, create_database_if_missing,
};
use fulfillment_core::{Clock, SystemClock, db};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_server::app::{self, ServeOptions};
use fulfillment_server::readiness::ReadinessCheck;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const INTERVAL: Duration = Duration::from_millis(100);

struct Faulty {
    target: Arc<PgTarget>,
    _dir: tempfile::TempDir,
    orders: FulfillmentServiceClient<Channel>,
    health: HealthClient<Channel>,
    _stop: watch::Sender<bool>,
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PostgreSQL cannot listen on port 0, so the cluster gets a port that was free a moment ago;
/// another process may take it first, and then the cluster is started again on a new one.
fn private_cluster() -> (tempfile::TempDir, PgTarget, String) {
    const ATTEMPTS: usize = 5;
    for attempt in 1..=ATTEMPTS {
        let dir = tempfile::tempdir().unwrap();
        let config = BootstrapConfig {
            explicit_url: None,
            local_addr: "127.0.0.1:1".into(),
            bin_dir: None,
            data_dir: Some(dir.path().to_path_buf()),
            port: free_port(),
        };
        match PgTarget::resolve_with(&config) {
            Ok(target) => {
                create_database_if_missing(&target.database_url("postgres"), "fulfillment")
                    .unwrap();
                let url = target.default_url();
                db::run_migrations(&url).unwrap();
                return (dir, target, url);
            }
            Err(e @ BootstrapError::StartTimeout(_))
                if e.to_string().contains("Address already in use") && attempt < ATTEMPTS =>
            {
                eprintln!(
                    "port {} was taken meanwhile; trying another: {e}",
                    config.port
                );
            }
            Err(e) => panic!("the private PostgreSQL did not start: {e}"),
        }
    }
    unreachable!("the last attempt returns or panics")
}

impl Faulty {
    async fn start() -> Self {
        let (dir, target, url) = tokio::task::spawn_blocking(private_cluster).await.unwrap();
        let pool = db::build_pool(&url, 8).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let state = app::app_state(pool, clock);
        let options = ServeOptions {
            readiness: Some(ReadinessCheck {
                database_url: url,
                interval: INTERVAL,
            }),
            ..ServeOptions::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(app::serve(listener, state, options, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let mut faulty = Self {
            target: Arc::new(target),
            _dir: dir,
            orders: FulfillmentServiceClient::new(channel.clone()),
            health: HealthClient::new(channel),
            _stop: stop,
        };
        faulty
            .orders
            .upsert_merchant(pb::UpsertMerchantRequest {
                merchant: Some(pb::Merchant {
                    id: "m-1".into(),
                    name: "Shop".into(),
                    country: "US".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        faulty
    }

    async fn status(&mut self, service: &str) -> ServingStatus {
        let answer = self
            .health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        ServingStatus::try_from(answer.status).unwrap()
    }

    async fn wait_status(&mut self, service: &str, want: ServingStatus) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.status(service).await != want {
            assert!(Instant::now() < deadline, "{service} never became {want:?}");
            tokio::time::sleep(INTERVAL / 2).await;
        }
    }

    async fn list(&mut self) -> Result<pb::ListOrdersToFulfillResponse, tonic::Status> {
        self.orders
            .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                merchant_id: "m-1".into(),
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    async fn stop_db(&self) {
        let target = self.target.clone();
        tokio::task::spawn_blocking(move || target.stop_server().unwrap())
            .await
            .unwrap();
    }

    async fn start_db(&self) {
        let target = self.target.clone();
        tokio::task::spawn_blocking(move || target.start_server().unwrap())
            .await
            .unwrap();
    }
}

/// Every pooled connection goes stale when PostgreSQL restarts; the pool must not hand them out.
async fn fill_the_pool(s: &Faulty) {
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let mut orders = s.orders.clone();
            tokio::spawn(async move {
                orders
                    .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                        merchant_id: "m-1".into(),
                        page_size: 10,
                        page_token: String::new(),
                    })
                    .await
                    .unwrap();
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_the_database_and_liveness_stays_up() {
    let mut s = Faulty::start().await;
    for service in fulfillment_server::readiness::SERVICES {
        s.wait_status(service, ServingStatus::Serving).await;
    }

    s.stop_db().await;
    for service in fulfillment_server::readiness::SERVICES {
        s.wait_status(service, ServingStatus::NotServing).await;
    }
    assert_eq!(
        s.status("").await,
        ServingStatus::Serving,
        "liveness: restarting the pod would not bring PostgreSQL back"
    );
    let down = s.list().await.unwrap_err();
    assert_eq!(down.code(), tonic::Code::Unavailable, "{down:?}");

    s.start_db().await;
    for service in fulfillment_server::readiness::SERVICES {
        s.wait_status(service, ServingStatus::Serving).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_call_fails_once_postgresql_is_back_after_an_idle_restart() {
    let mut s = Faulty::start().await;
    fill_the_pool(&s).await;
    s.stop_db().await;
    s.start_db().await;
    // Every connection in the pool was cut; none of these may fail for it.
    for i in 0..40 {
        if let Err(e) = s.list().await {
            panic!("call {i} after the restart failed: {e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_load_a_restart_costs_only_unavailable_calls_while_it_is_down() {
    let mut s = Faulty::start().await;
    fill_the_pool(&s).await;
    let (done_tx, done) = watch::channel(false);
    // (began after PostgreSQL was back, code) of every failed call.
    let back_since = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let mut orders = s.orders.clone();
            let done = done.clone();
            let back_since = back_since.clone();
            tokio::spawn(async move {
                let (mut ok, mut failures) = (0u32, Vec::new());
                while !*done.borrow() {
                    let began = Instant::now();
                    let answer = orders
                        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                            merchant_id: "m-1".into(),
                            page_size: 10,
                            page_token: String::new(),
                        })
                        .await;
                    match answer {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            let after_back = back_since.lock().unwrap().is_some_and(|t| began > t);
                            failures.push((after_back, e.code()));
                        }
                    }
                }
                (ok, failures)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.stop_db().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.start_db().await;
    *back_since.lock().unwrap() = Some(Instant::now());
    // Let the callers run on the restarted server for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut after = 0;
    while after < 200 {
        assert!(Instant::now() < deadline, "calls did not resume");
        if s.list().await.is_ok() {
            after += 1;
        }
    }
    done_tx.send(true).unwrap();
    let (mut ok, mut failures) = (0, Vec::new());
    for caller in callers {
        let (o, f) = caller.await.unwrap();
        ok += o;
        failures.extend(f);
    }
    assert!(ok > 0);
    for (after_back, code) in &failures {
        assert_eq!(*code, tonic::Code::Unavailable, "{failures:?}");
        assert!(
            !after_back,
            "a call begun after PostgreSQL was back failed: {failures:?}"
        );
    }
    eprintln!(
        "restart under load: {ok} calls answered, {} UNAVAILABLE while down",
        failures.len()
    );
}
