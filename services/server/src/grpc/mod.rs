//! gRPC adapters: decode the wire message, call the operation, encode the answer.

pub mod fulfillment;
pub mod policy;
pub mod tracking;

use tonic::Status;

/// An RPC whose implementation belongs to a later part of the roadmap.
pub(crate) fn not_yet(rpc: &str, issue: &str) -> Status {
    Status::unimplemented(format!("{rpc} is not implemented yet ({issue})"))
}
