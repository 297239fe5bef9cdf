//! gRPC adapters: decode the wire message, call the operation, encode the answer.

pub mod fulfillment;
pub mod policy;
pub mod snapshot_stream;
pub mod tracking;
