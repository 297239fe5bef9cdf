//! Carrier dispatch over gRPC (R19, R20): CreateShipments and GetLabels against a real server
//! and PostgreSQL, with the three carriers faked by wiremock answering the fixtures of
//! `services/carriers/tests/fixtures/dispatch`.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

#[path = "../common/mod.rs"]
mod common;

mod batches;
mod carriers;
mod fakes;
mod harness;
mod labels;
mod recovery;
mod recreate;
