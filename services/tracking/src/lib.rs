//! Carriers' facts (R12–R14, R21, R22): tracking events and their ingest (poll, push, webhook,
//! cancellation), the trackings they update, the reads of a tracking and of a merchant's stuck
//! trackings, and the Intelipost integration with its webhook pushes. Knows nothing of gRPC.
//!
//! Arrows: depends on `fulfillment-core` (persistence, the shared input and paging vocabulary)
//! and `fulfillment-policy` (the rules) only. It must not depend on `fulfillment-orders` or
//! `fulfillment-dispatch`, nor on `fulfillment-proto` (only the server does).

pub mod intelipost;
pub mod tracking;
