//! The fulfillment gRPC server: composes FulfillmentService, TrackingService and PolicyService
//! with health and reflection, maps errors to gRPC once, and shuts down gracefully. The only
//! crate (with test clients) that knows the wire format.

pub mod app;
pub mod auth;
pub mod authz;
pub mod bulk;
pub mod convert;
pub mod gate;
pub mod grpc;
pub mod idempotency_purge;
pub mod metrics;
pub mod readiness;
pub mod reload;
pub mod state;
pub mod status;
pub mod tls;
pub mod webhook;
