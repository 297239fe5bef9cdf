//! `merchant-notifier` (R9): see `fulfillment_workers::reconcile::MerchantNotifier`. Runs once and prints a
//! one-line summary (a CronJob), or `--schedule "<cron>"` as a daemon; `--dry-run` prints the
//! decisions and changes nothing.

use fulfillment_workers::reconcile::MerchantNotifier;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fulfillment_workers::cli::main::<MerchantNotifier>().await
}
