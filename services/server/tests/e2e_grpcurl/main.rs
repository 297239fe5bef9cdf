//! End to end, the way operators work: the built `fulfillment-server` binary, driven by the real
//! `grpcurl` through server reflection.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

#[path = "../common/mod.rs"]
mod common;

mod basics;
mod bulk;
mod docs;
mod mtls;
mod otlp;
mod server;
mod startup;
