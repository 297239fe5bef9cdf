//! Reconciliation workers share this runner: run a job once and exit (a Kubernetes CronJob), or
//! run it on a cron schedule as a daemon (`--schedule`). Each worker binary is its decision loop
//! and little else; the decisions themselves come from `fulfillment-policy`.

pub mod cli;
pub mod poll_stats;
pub mod poller;
pub mod reconcile;
pub mod runner;
pub mod runs;
pub mod setup;
