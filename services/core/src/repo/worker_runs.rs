//! Runs of the worker binaries, for operators (ListWorkerRuns).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::schema::worker_runs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = worker_runs, check_for_backend(diesel::pg::Pg))]
pub struct WorkerRun {
    pub id: i64,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub dry_run: bool,
    pub counts: Value,
    pub error: Option<String>,
}

/// Records that a run started; returns its id.
pub fn start(
    conn: &mut PgConnection,
    worker: &str,
    dry_run: bool,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    diesel::insert_into(worker_runs::table)
        .values((
            worker_runs::worker.eq(worker),
            worker_runs::started_at.eq(now),
            worker_runs::outcome.eq("running"),
            worker_runs::dry_run.eq(dry_run),
        ))
        .returning(worker_runs::id)
        .get_result(conn)
}

/// Records how a run ended: `completed` with its counts, or `failed` with the error.
pub fn finish(
    conn: &mut PgConnection,
    id: i64,
    counts: Value,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(worker_runs::table.find(id))
        .set((
            worker_runs::finished_at.eq(now),
            worker_runs::outcome.eq(if error.is_some() {
                "failed"
            } else {
                "completed"
            }),
            worker_runs::counts.eq(counts),
            worker_runs::error.eq(error),
        ))
        .execute(conn)
}

/// Newest first, after the run `before` (exclusive) when given.
pub fn list(
    conn: &mut PgConnection,
    worker: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<WorkerRun>> {
    let mut query = worker_runs::table
        .select(WorkerRun::as_select())
        .order(worker_runs::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(worker) = worker {
        query = query.filter(worker_runs::worker.eq(worker.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(worker_runs::id.lt(before));
    }
    query.load(conn)
}
