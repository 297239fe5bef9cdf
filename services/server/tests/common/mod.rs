//! Starts the real server in-process on a free port, on a fresh database, with a clock the test
//! controls, and hands out gRPC clients.
#![allow(dead_code)]

pub mod carrier_fakes;
pub mod certs;
pub mod child;
pub mod raw;
pub mod wait;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::PgConnection;
use fulfillment_core::secrets::Keyring;
use fulfillment_core::testing::TestDb;
use fulfillment_core::{Clock, ManualClock};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_proto::v1::policy_service_client::PolicyServiceClient;
use fulfillment_proto::v1::tracking_service_client::TrackingServiceClient;
use fulfillment_server::app::{self, ServeOptions};
use fulfillment_server::webhook::{self, WebhookOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::Channel;

pub struct TestServer {
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub addr: std::net::SocketAddr,
    pub orders: FulfillmentServiceClient<Channel>,
    pub policy: PolicyServiceClient<Channel>,
    pub tracking: TrackingServiceClient<Channel>,
    /// The carrier webhooks' listener (plain HTTP), served from the same state.
    pub webhook: std::net::SocketAddr,
    stop: Option<watch::Sender<bool>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

/// The day every test stands on unless it moves the clock.
pub fn today() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServeOptions::default()).await
    }

    /// Starts the server as `options` expose it; the clients speak plaintext without a token
    /// (tests of secured servers build their own).
    pub async fn start_with(options: ServeOptions) -> Self {
        Self::start_with_keys(options, None).await
    }

    /// As [`Self::start_with`], with a key ring sealing carrier secrets.
    pub async fn start_with_keys(options: ServeOptions, keys: Option<Arc<Keyring>>) -> Self {
        let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
        // The pool reports to the metrics as the binary's does (issue 20.2).
        let metrics = Arc::new(fulfillment_server::metrics::Metrics::new());
        let pool = fulfillment_core::db::build_pool_observed(
            db.url(),
            8,
            None,
            Some(Box::new(metrics.pool_events())),
        )
        .unwrap();
        let clock = Arc::new(ManualClock::new(today()));
        let shared: Arc<dyn Clock> = clock.clone();
        let mut state = app::app_state(pool, shared);
        state.metrics = metrics;
        state.keys = keys;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hooks = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let webhook = hooks.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let webhook_options = WebhookOptions {
            max_body_bytes: 64 * 1024,
            tls: None,
        };
        let handle = tokio::spawn(async move {
            let (grpc, hooks) = tokio::join!(
                app::serve(
                    listener,
                    state.clone(),
                    options,
                    until_stopped(stopped.clone())
                ),
                webhook::serve(hooks, state, webhook_options, until_stopped(stopped)),
            );
            grpc.unwrap();
            hooks.unwrap();
        });
        let channel = plaintext_channel(addr);
        Self {
            db,
            clock,
            addr,
            orders: FulfillmentServiceClient::new(channel.clone()),
            policy: PolicyServiceClient::new(channel.clone()),
            tracking: TrackingServiceClient::new(channel),
            webhook,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// A new plaintext channel to the server, for clients the test builds itself.
    pub fn channel(&self) -> Channel {
        plaintext_channel(self.addr)
    }

    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    pub async fn merchant(&mut self, id: &str, country: &str) {
        self.orders
            .upsert_merchant(pb::UpsertMerchantRequest {
                merchant: Some(pb::Merchant {
                    id: id.into(),
                    name: format!("Merchant {id}"),
                    country: country.into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }

    /// Releases an order to `merchant` at `released_at`, shipping to `to`.
    pub async fn release_at(
        &mut self,
        merchant: &str,
        id: &str,
        released_at: DateTime<Utc>,
        to: pb::ShippingDetail,
    ) -> pb::Order {
        self.orders
            .release_order(release_request(merchant, id, released_at, to))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// GetOrder for `merchant`, unwrapped.
    pub async fn get(&mut self, merchant: &str, id: &str) -> pb::Order {
        self.orders
            .get_order(pb::GetOrderRequest {
                merchant_id: merchant.into(),
                order_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// DecideCancellation (R16) of `merchant`'s order `id`, cancelled by `by` at `cancelled` and
    /// decided (the re-release asked) at `decided`; unwrapped.
    pub async fn decide(
        &mut self,
        merchant: &str,
        id: &str,
        cancelled: DateTime<Utc>,
        by: pb::CancelledBy,
        decided: DateTime<Utc>,
    ) -> pb::CancellationDecision {
        self.policy
            .decide_cancellation(pb::DecideCancellationRequest {
                merchant_id: merchant.into(),
                order_id: id.into(),
                cancelled_at: Some(ts(cancelled)),
                cancelled_by: by as i32,
                re_released_at: Some(ts(decided)),
            })
            .await
            .unwrap()
            .into_inner()
            .decision
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap();
        }
    }
}

/// A plaintext channel to `addr`, connecting at the first call.
pub fn plaintext_channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

/// Adds `authorization: Bearer <token>` to every call, for the servers a token table secures.
#[derive(Clone)]
pub struct Bearer(pub &'static str);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.0).parse().unwrap(),
        );
        Ok(r)
    }
}

/// A channel whose every call carries a token.
pub type Authed = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

pub fn with_token(channel: Channel, token: &'static str) -> Authed {
    Authed::new(channel, Bearer(token))
}

/// GetBulkJob's job (its first page of rows aside), unwrapped.
pub async fn bulk_job(
    client: &mut FulfillmentServiceClient<Channel>,
    merchant: &str,
    job_id: &str,
) -> pb::BulkJob {
    client
        .get_bulk_job(pb::GetBulkJobRequest {
            merchant_id: merchant.into(),
            job_id: job_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

pub fn release_request(
    merchant: &str,
    id: &str,
    released_at: DateTime<Utc>,
    to: pb::ShippingDetail,
) -> pb::ReleaseOrderRequest {
    pb::ReleaseOrderRequest {
        order_id: id.into(),
        merchant_id: merchant.into(),
        released_at: Some(ts(released_at)),
        shipping_detail: Some(to),
        product_name: "Widget".into(),
        quantity: 1,
        ..Default::default()
    }
}

pub fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

pub fn alice() -> pb::ShippingDetail {
    pb::ShippingDetail {
        name: "Alice Smith".into(),
        street_address1: "1 Main St".into(),
        street_address2: String::new(),
        city: "Springfield".into(),
        state: "IL".into(),
        zipcode: "62701".into(),
        country: "US".into(),
        phone_number: "+1 555 0100".into(),
    }
}

pub fn bob() -> pb::ShippingDetail {
    pb::ShippingDetail {
        name: "Bob Jones".into(),
        street_address1: "2 Oak Ave".into(),
        city: "Portland".into(),
        zipcode: "97201".into(),
        country: "US".into(),
        ..Default::default()
    }
}

/// Day `n` of the worked examples (day 1 = ten days before today, at 09:00).
pub fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 13, 9, 0, 0).unwrap() + Duration::days(n - 1)
}

pub fn fulfil(merchant: &str, order: &str, carrier: &str, number: &str) -> pb::FulfillOrderRequest {
    pb::FulfillOrderRequest {
        merchant_id: merchant.into(),
        order_id: order.into(),
        tracking_number: number.into(),
        carrier: carrier.into(),
        origin_country: "CN".into(),
        channel: pb::Channel::Api as i32,
    }
}

/// The `google.rpc.ErrorInfo` reason and the BadRequest fields of an error status.
pub fn error_reason(status: &tonic::Status) -> (String, Vec<String>) {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default();
    let fields = details
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    (reason, fields)
}
