//! The reconciliation workers on real PostgreSQL: the seeds' boundaries (R15's 2020-11-10, R16's
//! 25 calendar days), A+ carrier- vs merchant-cancelled (R18), late orders (R5), the daily digest
//! (R9), dry runs, several copies at once and a run killed mid-way.

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod aplus;
mod cancellation;
mod concurrency;
mod deadline_digest;
mod world;
