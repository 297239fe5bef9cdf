//! Bulk fulfilment jobs and their rows (R7). The rules of applying a row live in
//! `fulfillment-orders::bulk`; this is storage only.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};

use crate::schema::{bulk_job_rows, bulk_jobs};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bulk_jobs, check_for_backend(diesel::pg::Pg))]
pub struct BulkJob {
    pub id: String,
    pub merchant_id: String,
    pub file_name: String,
    pub actor: String,
    pub state: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub accepted_rows: i32,
    pub rejected_rows: i32,
    pub skipped_rows: i32,
    pub error: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bulk_job_rows, check_for_backend(diesel::pg::Pg))]
pub struct BulkJobRow {
    pub job_id: String,
    pub line: i32,
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub origin_country: String,
    pub outcome: String,
    pub reason: String,
    pub message: String,
    pub processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = bulk_jobs)]
pub struct NewBulkJob<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub file_name: &'a str,
    pub actor: &'a str,
    pub state: &'a str,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub accepted_rows: i32,
    pub rejected_rows: i32,
    pub skipped_rows: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Rows per INSERT: 10 columns each, well under PostgreSQL's 65535 parameters.
const INSERT_CHUNK: usize = 2000;

pub fn insert_job(conn: &mut PgConnection, job: &NewBulkJob<'_>) -> QueryResult<BulkJob> {
    diesel::insert_into(bulk_jobs::table)
        .values(job)
        .returning(BulkJob::as_returning())
        .get_result(conn)
}

pub fn insert_rows(conn: &mut PgConnection, rows: &[BulkJobRow]) -> QueryResult<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        diesel::insert_into(bulk_job_rows::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}

pub fn find(conn: &mut PgConnection, merchant_id: &str, id: &str) -> QueryResult<Option<BulkJob>> {
    bulk_jobs::table
        .filter(bulk_jobs::id.eq(id))
        .filter(bulk_jobs::merchant_id.eq(merchant_id))
        .select(BulkJob::as_select())
        .first(conn)
        .optional()
}

/// A merchant's jobs, newest first, after the `(created_at, id)` of the last one seen.
pub fn list(
    conn: &mut PgConnection,
    merchant_id: &str,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> QueryResult<Vec<BulkJob>> {
    let mut query = bulk_jobs::table
        .filter(bulk_jobs::merchant_id.eq(merchant_id))
        .select(BulkJob::as_select())
        .order((bulk_jobs::created_at.desc(), bulk_jobs::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((created_at, id)) = after {
        query = query.filter(
            bulk_jobs::created_at
                .lt(created_at)
                .or(bulk_jobs::created_at
                    .eq(created_at)
                    .and(bulk_jobs::id.lt(id))),
        );
    }
    query.load(conn)
}

/// A job's rows after `after_line`, in file order.
pub fn rows(
    conn: &mut PgConnection,
    job_id: &str,
    after_line: i32,
    limit: i64,
) -> QueryResult<Vec<BulkJobRow>> {
    bulk_job_rows::table
        .filter(bulk_job_rows::job_id.eq(job_id))
        .filter(bulk_job_rows::line.gt(after_line))
        .order(bulk_job_rows::line)
        .limit(limit)
        .select(BulkJobRow::as_select())
        .load(conn)
}

/// Takes the oldest unfinished job whose lease is free (none, or expired: its processor
/// crashed), leasing it until `lease_until`. Other processors skip a job being taken.
pub fn claim_next(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> QueryResult<Option<BulkJob>> {
    conn.transaction(|conn| {
        let id: Option<String> = bulk_jobs::table
            .filter(bulk_jobs::state.eq_any(["PENDING", "RUNNING"]))
            .filter(
                bulk_jobs::lease_until
                    .is_null()
                    .or(bulk_jobs::lease_until.lt(now)),
            )
            .order(bulk_jobs::created_at)
            .select(bulk_jobs::id)
            .for_update()
            .skip_locked()
            .first(conn)
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        diesel::update(bulk_jobs::table.find(&id))
            .set((
                bulk_jobs::state.eq("RUNNING"),
                bulk_jobs::lease_until.eq(lease_until),
                bulk_jobs::started_at.eq(diesel::dsl::sql::<Nullable<Timestamptz>>(
                    "coalesce(started_at, ",
                )
                .bind::<Timestamptz, _>(now)
                .sql(")")),
            ))
            .returning(BulkJob::as_returning())
            .get_result(conn)
            .optional()
    })
}

/// Up to `limit` lines of a job still waiting to be applied, of shard `shard` of `shards`
/// (`line % shards = shard`): parallel appliers of one job take disjoint lines.
pub fn pending_lines(
    conn: &mut PgConnection,
    job_id: &str,
    (shard, shards): (i32, i32),
    limit: i64,
) -> QueryResult<Vec<i32>> {
    bulk_job_rows::table
        .filter(bulk_job_rows::job_id.eq(job_id))
        .filter(bulk_job_rows::outcome.eq("PENDING"))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Integer>("line % ")
                .bind::<diesel::sql_types::Integer, _>(shards.max(1))
                .eq(shard),
        )
        .order(bulk_job_rows::line)
        .limit(limit)
        .select(bulk_job_rows::line)
        .load(conn)
}

/// A running job's counts, from its rows: (processed, accepted, rejected). The job row itself
/// is only counted at upload and at completion, so parallel appliers never queue on it.
pub fn live_counts(conn: &mut PgConnection, job_id: &str) -> QueryResult<(i32, i32, i32)> {
    let counts: Vec<(String, i64)> = bulk_job_rows::table
        .filter(bulk_job_rows::job_id.eq(job_id))
        .group_by(bulk_job_rows::outcome)
        .select((bulk_job_rows::outcome, diesel::dsl::count_star()))
        .load(conn)?;
    let of = |outcome: &str| {
        counts
            .iter()
            .find(|(o, _)| o == outcome)
            .map_or(0, |(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
    };
    let (accepted, rejected) = (of("ACCEPTED"), of("REJECTED"));
    Ok((accepted + rejected, accepted, rejected))
}

/// Keeps a job leased to its processor.
pub fn renew_lease(
    conn: &mut PgConnection,
    job_id: &str,
    lease_until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(bulk_jobs::table.find(job_id))
        .set(bulk_jobs::lease_until.eq(lease_until))
        .execute(conn)
}

/// Locks one row; `None` if it is no longer pending (another processor applied it).
pub fn lock_pending_row(
    conn: &mut PgConnection,
    job_id: &str,
    line: i32,
) -> QueryResult<Option<BulkJobRow>> {
    bulk_job_rows::table
        .find((job_id, line))
        .filter(bulk_job_rows::outcome.eq("PENDING"))
        .select(BulkJobRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Records a row's outcome.
pub fn record_outcome(
    conn: &mut PgConnection,
    row: &BulkJobRow,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(bulk_job_rows::table.find((&row.job_id, row.line)))
        .set((
            bulk_job_rows::outcome.eq(&row.outcome),
            bulk_job_rows::reason.eq(&row.reason),
            bulk_job_rows::message.eq(&row.message),
            bulk_job_rows::processed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends a job with no row left pending: `COMPLETED` with its final counts, lease released.
/// `None` if rows are still pending or the job is already finished.
pub fn complete_if_done(
    conn: &mut PgConnection,
    job_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<BulkJob>> {
    conn.transaction(|conn| {
        let job: Option<BulkJob> = bulk_jobs::table
            .find(job_id)
            .filter(bulk_jobs::state.eq("RUNNING"))
            .select(BulkJob::as_select())
            .for_update()
            .first(conn)
            .optional()?;
        if job.is_none() {
            return Ok(None);
        }
        let (processed, accepted, rejected) = live_counts(conn, job_id)?;
        let Some(job) = job.filter(|j| processed == j.total_rows) else {
            return Ok(None);
        };
        diesel::update(bulk_jobs::table.find(&job.id))
            .set((
                bulk_jobs::state.eq("COMPLETED"),
                bulk_jobs::processed_rows.eq(processed),
                bulk_jobs::accepted_rows.eq(accepted),
                bulk_jobs::rejected_rows.eq(rejected),
                bulk_jobs::finished_at.eq(now),
                bulk_jobs::lease_until.eq(None::<DateTime<Utc>>),
            ))
            .returning(BulkJob::as_returning())
            .get_result(conn)
            .optional()
    })
}

/// Gives a job's lease back so another processor may take it at once (shutdown, outage).
pub fn release_lease(conn: &mut PgConnection, job_id: &str) -> QueryResult<usize> {
    diesel::update(bulk_jobs::table.find(job_id))
        .set(bulk_jobs::lease_until.eq(None::<DateTime<Utc>>))
        .execute(conn)
}
