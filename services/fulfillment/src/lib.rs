//! Order operations: merchants, release, fulfil (one or several orders on one tracking), modify
//! tracking, bulk uploads, exports, reads, feeds, demo data and the policy what-ifs. Each
//! operation loads facts, asks `fulfillment-policy`, and writes the outcome with its audit row
//! and outbox rows in the caller's transaction. Knows nothing of gRPC.
//!
//! Arrows: depends on `fulfillment-core` (persistence, the shared input and paging vocabulary)
//! and `fulfillment-policy` only. It must not depend on `fulfillment-tracking` or
//! `fulfillment-dispatch` (dispatch depends on it, to ship what a carrier accepted), nor on
//! `fulfillment-proto` (only the server does).

pub mod bulk;
pub mod combined;
pub mod csv_file;
pub mod demo;
pub mod evaluate;
pub mod export;
pub mod feeds;
pub mod input;
pub mod merchants;
pub mod policies;
pub mod queries;
pub mod release;
pub mod ship;
pub mod simulation;
pub mod view;

pub use input::{Actor, AddressInput, ReleaseInput, TrackingInput};
pub use policies::PolicyStore;
pub use view::{OrderView, TrackingLink};
