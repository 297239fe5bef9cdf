//! Queries, one module per table family. Functions take a connection so callers choose the
//! transaction; none of them decides anything a rule should decide.

pub mod audit;
pub mod bulk_jobs;
pub mod carrier_accounts;
pub mod idempotency;
pub mod intelipost;
pub mod meaning;
pub mod merchants;
pub mod orders;
pub mod outbox;
pub mod policies;
pub mod reconcile;
pub mod shipments;
pub mod tracking_events;
pub mod trackings;
pub mod worker_runs;
