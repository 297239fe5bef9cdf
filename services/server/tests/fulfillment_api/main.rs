//! FulfillmentService over real gRPC on a real database: R1-R4, R9-R12, isolation, idempotency.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod combine;
#[path = "../common/mod.rs"]
mod common;
mod history_and_lists;
mod idempotency;
mod refusals;
mod release;
