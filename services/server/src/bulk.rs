//! The bulk job processors (R7): background tasks of the server that take stored CSV jobs and
//! apply their rows. Several servers may run them at once: a job is leased to one processor,
//! and a crashed processor's job is taken over when its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use fulfillment_orders::bulk::{self, JobRun};
use fulfillment_orders::csv_file::UploadLimits;
use tokio::sync::{Notify, watch};

use crate::state::AppState;

/// How uploads are limited and processed.
#[derive(Debug, Clone)]
pub struct BulkConfig {
    pub limits: UploadLimits,
    /// Processor tasks in this server; 0 stores jobs for other servers to apply.
    pub processors: usize,
    /// How long a processor holds a job without progress before another may take it.
    pub lease: Duration,
    /// How often an idle processor looks for jobs (a new upload on this server wakes it at once).
    pub poll: Duration,
    pub wake: Arc<Notify>,
}

impl Default for BulkConfig {
    fn default() -> Self {
        Self {
            limits: UploadLimits {
                max_bytes: 8 * 1024 * 1024,
                max_rows: 50_000,
            },
            processors: 1,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(2),
            wake: Arc::new(Notify::new()),
        }
    }
}

/// Starts the configured processors; they stop (between rows) once `stop` turns true.
pub fn spawn_processors(state: &AppState, stop: &watch::Receiver<bool>) {
    for n in 0..state.bulk.processors {
        tokio::spawn(run_processor(n, state.clone(), stop.clone()));
    }
}

async fn run_processor(n: usize, state: AppState, mut stop: watch::Receiver<bool>) {
    let config = state.bulk.clone();
    let lease = chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::minutes(1));
    loop {
        if *stop.borrow() {
            return;
        }
        let clock = state.clock.clone();
        let claimed = state
            .db
            .run(move |conn| bulk::claim_next(conn, clock.now(), lease))
            .await;
        match claimed {
            Ok(Some(job)) => {
                tracing::info!(processor = n, job_id = %job.id, "bulk job taken");
                let (st, flag) = (state.clone(), stop.clone());
                let run = state
                    .db
                    .run(move |conn| {
                        bulk::process_job(conn, &*st.clock, &st.policies, &job, lease, &|| {
                            *flag.borrow()
                        })
                    })
                    .await;
                match run {
                    Ok(JobRun::Completed) => continue,
                    Ok(JobRun::Stopped) => return,
                    Err(e) => tracing::warn!(processor = n, error = %e, "bulk job interrupted"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(processor = n, error = %e, "cannot look for bulk jobs"),
        }
        tokio::select! {
            () = config.wake.notified() => {}
            () = tokio::time::sleep(config.poll) => {}
            _ = stop.changed() => {}
        }
    }
}
