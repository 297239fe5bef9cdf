//! `cancellation-detector` (R15): see `fulfillment_workers::reconcile::CancellationDetector`. Runs once and prints a
//! one-line summary (a CronJob), or `--schedule "<cron>"` as a daemon; `--dry-run` prints the
//! decisions and changes nothing.

use fulfillment_workers::reconcile::CancellationDetector;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fulfillment_workers::cli::main::<CancellationDetector>().await
}
