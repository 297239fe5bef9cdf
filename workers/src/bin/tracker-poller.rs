//! `tracker-poller`: polls carriers for the trackings that are due (R22). Runs once and exits
//! with a one-line summary (a Kubernetes CronJob), or on `--schedule` as a daemon.

use std::sync::Arc;

use clap::Parser;
use fulfillment_carriers::Registry;
use fulfillment_workers::poller::{NAME, Poller, PollerConfig};
use fulfillment_workers::runner::{self, RunnerArgs};
use fulfillment_workers::runs;
use fulfillment_workers::setup;

#[derive(Parser)]
#[command(name = NAME, about = "Polls carrier trackers for the trackings that are due (R22)")]
struct Cli {
    #[command(flatten)]
    runner: RunnerArgs,
    /// Trackings claimed per batch.
    #[arg(long, env = "TRACKER_POLLER_BATCH_SIZE", default_value_t = 200)]
    batch_size: i64,
    /// Carrier calls in flight at once.
    #[arg(long, env = "TRACKER_POLLER_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// How long a claim holds a tracking before another poller may take it, in seconds.
    #[arg(long, env = "TRACKER_POLLER_LEASE_SECS", default_value_t = 600)]
    lease_secs: i64,
    /// Stop after this many batches (default: until nothing is due).
    #[arg(long)]
    max_batches: Option<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = setup::init_logging(NAME);
    let cli = Cli::parse();
    let registry = Registry::from_env()?;
    let (target, db) = setup::database(4).await?;
    let config = PollerConfig {
        batch_size: cli.batch_size.clamp(1, 10_000),
        concurrency: cli.concurrency.max(1),
        lease: chrono::Duration::seconds(cli.lease_secs.max(30)),
        max_batches: cli.max_batches,
        ..PollerConfig::default()
    };
    tracing::info!(worker = NAME, carriers = ?registry, "starting");
    let dry_run = cli.runner.dry_run;
    let clock = setup::clock();
    let poller = Arc::new(tokio::sync::Mutex::new(Poller::new(
        db.clone(),
        clock.clone(),
        registry,
        config,
    )));
    runner::run(NAME, &cli.runner, move || {
        let (poller, db, clock) = (poller.clone(), db.clone(), clock.clone());
        async move {
            let mut poller = poller.lock().await;
            if dry_run {
                let due = runs::recorded(&db, &clock, NAME, true, || async {
                    Ok(poller.due().await?)
                })
                .await?;
                let total: i64 = due.values().sum();
                println!("{NAME} (dry run): would poll {total} trackings {due:?}");
                return Ok(());
            }
            let summary = runs::recorded(&db, &clock, NAME, false, || async {
                Ok(poller.run_once().await?)
            })
            .await?;
            println!("{summary}");
            Ok(())
        }
    })
    .await?;
    drop(target);
    Ok(())
}
