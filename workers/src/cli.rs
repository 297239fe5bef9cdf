//! The `main` every reconciliation binary shares: flags, logs, database, one run or a schedule,
//! the run recorded in `worker_runs`, and the one-line summary on stdout.

use std::sync::Arc;

use clap::Parser;
use fulfillment_orders::PolicyStore;

use crate::reconcile::{self, Step};
use crate::runner::{self, RunnerArgs};
use crate::{runs, setup};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    runner: RunnerArgs,
    /// Items claimed and decided per transaction.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 500)]
    batch_size: i64,
}

/// Runs worker `S` as its binary.
pub async fn main<S: Step>() -> anyhow::Result<()> {
    let _telemetry = setup::init_logging(S::NAME);
    let cli = Cli::parse_from(std::env::args_os());
    let (target, db) = setup::database(2).await?;
    let clock = setup::clock();
    let policies = Arc::new(PolicyStore::new());
    let dry_run = cli.runner.dry_run;
    let batch_size = cli.batch_size;
    runner::run(S::NAME, &cli.runner, move || {
        let (db, clock, policies) = (db.clone(), clock.clone(), policies.clone());
        async move {
            let Done(summary, lines) = runs::recorded(&db, &clock, S::NAME, dry_run, || async {
                let (summary, lines) =
                    reconcile::run::<S>(&db, &clock, &policies, batch_size, dry_run).await?;
                Ok(Done(summary, lines))
            })
            .await?;
            for line in lines {
                println!("would: {line}");
            }
            println!("{summary}{}", if dry_run { " (dry run)" } else { "" });
            Ok(())
        }
    })
    .await?;
    drop(target);
    Ok(())
}

struct Done(reconcile::Summary, Vec<String>);

impl runs::RunCounts for Done {
    fn counts(&self) -> std::collections::BTreeMap<String, i64> {
        runs::RunCounts::counts(&self.0)
    }
}
