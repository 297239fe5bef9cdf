//! Builds the gRPC server from its parts, so `main` and the tests start exactly the same thing.

use std::future::Future;
use std::sync::Arc;

use fulfillment_core::{Db, PgPool, SharedClock};
use fulfillment_orders::PolicyStore;
use fulfillment_proto::v1::fulfillment_service_server::FulfillmentServiceServer;
use fulfillment_proto::v1::policy_service_server::PolicyServiceServer;
use fulfillment_proto::v1::tracking_service_server::TrackingServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;

use crate::grpc::fulfillment::FulfillmentApi;
use crate::grpc::policy::PolicyApi;
use crate::grpc::tracking::TrackingApi;
use crate::state::AppState;

/// Largest request accepted (CSV uploads included).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

pub fn app_state(pool: PgPool, clock: SharedClock) -> AppState {
    AppState {
        db: Db::new(pool),
        clock,
        policies: Arc::new(PolicyStore::new()),
    }
}

/// Serves every service, health and reflection on `listener` until `shutdown` resolves; then
/// stops accepting and lets in-flight calls finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
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

    // Both reflection versions serve the same descriptors, each listing the other too, so
    // old and new clients (grpcurl uses v1alpha) see every service.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(fulfillment_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection_v1alpha = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha();

    let mut router = Server::builder()
        .add_service(health_service)
        .add_service(
            FulfillmentServiceServer::new(FulfillmentApi {
                state: state.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(PolicyServiceServer::new(PolicyApi {
            state: state.clone(),
        }))
        .add_service(TrackingServiceServer::new(TrackingApi));
    // The descriptors are built into the binary: a failure here is a build defect, logged
    // loudly (and caught by the end-to-end test), not a reason to refuse to serve orders.
    match (reflection_v1, reflection_v1alpha) {
        (Ok(v1), Ok(v1alpha)) => router = router.add_service(v1).add_service(v1alpha),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "reflection descriptors are invalid")
        }
    }
    router
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
