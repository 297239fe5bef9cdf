//! `re-release-decider` (R16, R17): see `fulfillment_workers::reconcile::ReReleaseDecider`. Runs once and prints a
//! one-line summary (a CronJob), or `--schedule "<cron>"` as a daemon; `--dry-run` prints the
//! decisions and changes nothing.

use fulfillment_workers::reconcile::ReReleaseDecider;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fulfillment_workers::cli::main::<ReReleaseDecider>().await
}
