//! The business rules of `RULES.md` as pure functions over plain values: one module per rule
//! family, each citing its R-number, each tested with the seeds' worked examples. No I/O: this
//! crate must not depend on PostgreSQL, gRPC or the clock (callers pass `now`).

pub mod bank_account;
pub mod calendar;
pub mod cancellation;
pub mod combined_shipment;
pub mod deadline;
pub mod eligibility;
pub mod notification;
pub mod order_state;
pub mod publishing;
pub mod release;
pub mod shipment;
pub mod simulation;
pub mod spreadsheet;
pub mod stuck;
pub mod tracking_number;
pub mod tracking_status;
pub mod values;
pub mod webhook;
