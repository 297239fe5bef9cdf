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
    /// Rows of one job a processor applies at once, each on its own connection: a row is
    /// bound by round trips and its commit, not by CPU.
    pub parallelism: usize,
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
            parallelism: 4,
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

/// Awaits every future, in order (a handful: no need for a crate).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(output) = handle.await {
            out.push(output);
        }
    }
    out
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
                let shards = i32::try_from(config.parallelism.clamp(1, 64)).unwrap_or(1);
                let parts = (0..shards).map(|shard| {
                    let (st, flag, job) = (state.clone(), stop.clone(), job.clone());
                    async move {
                        let db = st.db.clone();
                        db.run(move |conn| {
                            bulk::process_job(
                                conn,
                                &*st.clock,
                                &st.policies,
                                &job,
                                (shard, shards),
                                lease,
                                &|| *flag.borrow(),
                            )
                        })
                        .await
                    }
                });
                let mut stopped = false;
                for run in futures_join_all(parts).await {
                    match run {
                        Ok(JobRun::Completed) => {}
                        Ok(JobRun::Stopped) => stopped = true,
                        Err(e) => {
                            tracing::warn!(processor = n, error = %e, "bulk job interrupted")
                        }
                    }
                }
                if stopped {
                    return;
                }
                continue;
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
