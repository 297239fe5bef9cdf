//! Order operations: merchants, release, fulfil (one or several orders on one tracking), modify
//! tracking, reads, and the policy what-ifs. Each operation loads facts, asks
//! `fulfillment-policy`, and writes the outcome with its audit row and outbox rows in the
//! caller's transaction. Knows nothing of gRPC.

pub mod bulk;
pub mod carrier_accounts;
pub mod combined;
pub mod csv_file;
pub mod demo;
pub mod dispatch;
pub mod evaluate;
pub mod export;
pub mod feeds;
pub mod input;
pub mod intelipost;
pub mod merchants;
pub mod policies;
pub mod queries;
pub mod release;
pub mod ship;
pub mod simulation;
pub mod tracking;
pub mod view;

pub use input::{Actor, AddressInput, ReleaseInput, TrackingInput};
pub use policies::PolicyStore;
pub use view::{OrderView, TrackingLink};
