//! Builds the gRPC server from its parts, so `main` and the tests start exactly the same thing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fulfillment_core::{Db, PgPool, SharedClock};
use fulfillment_orders::PolicyStore;
use fulfillment_proto::v1::fulfillment_service_server::FulfillmentServiceServer;
use fulfillment_proto::v1::policy_service_server::PolicyServiceServer;
use fulfillment_proto::v1::tracking_service_server::TrackingServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::gate::{Gate, GateLayer, SharedTokens};
use crate::grpc::fulfillment::FulfillmentApi;
use crate::grpc::policy::PolicyApi;
use crate::grpc::tracking::TrackingApi;
use crate::state::AppState;
use crate::tls::{self, ReloadingTls};

/// The limits every call is held to (issue 5). What is refused says which limit it hit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request or response message, in bytes (CSV uploads included).
    pub max_message_bytes: usize,
    /// Longest a call may run; a shorter client `grpc-timeout` wins.
    pub request_timeout: Duration,
    /// Calls one caller may have in flight at once; more are refused RESOURCE_EXHAUSTED.
    pub max_in_flight_per_caller: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_in_flight_per_caller: 64,
        }
    }
}

/// How the server is exposed: who may call, over what, within which limits.
#[derive(Clone)]
pub struct ServeOptions {
    /// `None`: open local mode (main refuses it on non-loopback listeners).
    pub tokens: Option<SharedTokens>,
    /// gRPC reflection; operators use it with grpcurl, production may switch it off.
    pub reflection: bool,
    pub tls: Option<Arc<ReloadingTls>>,
    pub limits: Limits,
    /// Readiness follows this database; `None` leaves the services `SERVING` (tests that do
    /// not stop their database).
    pub readiness: Option<crate::readiness::ReadinessCheck>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tokens: None,
            reflection: true,
            tls: None,
            limits: Limits::default(),
            readiness: None,
        }
    }
}

pub fn app_state(pool: PgPool, clock: SharedClock) -> AppState {
    AppState {
        db: Db::new(pool),
        clock,
        policies: Arc::new(PolicyStore::new()),
        keys: None,
        bulk: crate::bulk::BulkConfig::default(),
        dispatch: fulfillment_dispatch::dispatch::DispatchConfig::default(),
        idempotency: crate::idempotency_purge::Retention::default(),
        metrics: Arc::new(crate::metrics::Metrics::new()),
    }
}

/// The health service, every service SERVING; with a readiness check, their status follows the
/// database until `stopped`.
async fn health_service(
    options: &ServeOptions,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> HealthServer<impl Health> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<FulfillmentServiceServer<FulfillmentApi>>()
        .await;
    health_reporter
        .set_serving::<PolicyServiceServer<PolicyApi>>()
        .await;
    health_reporter
        .set_serving::<TrackingServiceServer<TrackingApi>>()
        .await;
    if let Some(check) = options.readiness.clone() {
        crate::readiness::spawn(check, health_reporter, stopped.clone());
    }
    health_service
}

/// Serves every service, health and reflection on `listener` until `shutdown` resolves; then
/// stops accepting and lets in-flight calls finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let limits = &options.limits;
    let max = limits.max_message_bytes;
    // The bulk processors stop with the server, between two rows.
    let (stop_bulk, bulk_stopped) = tokio::sync::watch::channel(false);
    crate::bulk::spawn_processors(&state, &bulk_stopped);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_bulk.send(true);
    };
    let health_service = health_service(&options, &bulk_stopped).await;
    crate::idempotency_purge::spawn(&state, bulk_stopped.clone());

    // Both reflection versions serve the same descriptors, each listing the other too, so
    // old and new clients (grpcurl uses v1alpha) see every service.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(fulfillment_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.ErrorInfo, BadRequest, ...: so `grpcurl -format-error` prints the
            // details every error carries as JSON instead of base64.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection_v1alpha = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha();

    let gate = Arc::new(Gate::new(
        options.tokens.clone(),
        limits.max_in_flight_per_caller,
    ));
    let mut router = Server::builder()
        .timeout(limits.request_timeout)
        // Metadata is small (a token, an idempotency key); big headers are abuse.
        .http2_max_header_list_size(Some(16 * 1024))
        .layer(crate::metrics::MetricsLayer(state.metrics.clone()))
        .layer(GateLayer::new(gate))
        .add_service(health_service)
        .add_service(
            FulfillmentServiceServer::new(FulfillmentApi {
                state: state.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        )
        .add_service(
            PolicyServiceServer::new(PolicyApi {
                state: state.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        )
        .add_service(
            TrackingServiceServer::new(TrackingApi {
                state: state.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        );
    if options.reflection {
        // The descriptors are built into the binary: a failure here is a build defect, logged
        // loudly (and caught by the end-to-end test), not a reason to refuse to serve orders.
        match (reflection_v1, reflection_v1alpha) {
            (Ok(v1), Ok(v1alpha)) => router = router.add_service(v1).add_service(v1alpha),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "reflection descriptors are invalid")
            }
        }
    }
    match options.tls {
        Some(tls) => {
            router
                .serve_with_incoming_shutdown(tls::incoming(listener, tls), shutdown)
                .await
        }
        None => {
            router
                .serve_with_incoming_shutdown(
                    // Small gRPC frames must leave at once: with Nagle's algorithm on, a
                    // response waited for the client's delayed ACK (~40 ms a call, issue 21).
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
        }
    }
}
