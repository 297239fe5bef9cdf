//! Every run of a worker leaves a `worker_runs` row (start, end, counts, outcome) that operators
//! read with ListWorkerRuns. A run killed mid-way stays `running`: its start is still recorded.

use std::collections::BTreeMap;
use std::future::Future;

use fulfillment_core::{Db, SharedClock, repo};

/// A run's result as named counts (the summary line's figures).
pub trait RunCounts {
    fn counts(&self) -> BTreeMap<String, i64>;
}

/// Runs `job`, recording its start, then its counts or its error.
pub async fn recorded<T, F, Fut>(
    db: &Db,
    clock: &SharedClock,
    worker: &'static str,
    dry_run: bool,
    job: F,
) -> anyhow::Result<T>
where
    T: RunCounts,
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let started = clock.now();
    let id = db
        .transaction(move |conn| Ok(repo::worker_runs::start(conn, worker, dry_run, started)?))
        .await?;
    // One span per run: every log line of the run carries the worker and its run id.
    let span = tracing::info_span!("worker_run", worker, run_id = id, dry_run);
    let result = tracing::Instrument::instrument(job(), span).await;
    let (counts, error) = match &result {
        Ok(done) => (serde_json::to_value(done.counts())?, None),
        Err(e) => (serde_json::json!({}), Some(format!("{e:#}"))),
    };
    let finished = clock.now();
    db.transaction(move |conn| {
        Ok(repo::worker_runs::finish(
            conn,
            id,
            counts,
            error.as_deref(),
            finished,
        )?)
    })
    .await?;
    result
}

/// Due work per name (a dry run's figures).
impl RunCounts for BTreeMap<String, i64> {
    fn counts(&self) -> BTreeMap<String, i64> {
        self.clone()
    }
}
