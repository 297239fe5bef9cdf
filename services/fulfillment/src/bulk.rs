//! Bulk fulfilment by CSV (R7). An upload is parsed and stored whole, as a job with one row per
//! order, and answered at once; processors then apply the rows in the background, each row in
//! its own transaction through the same `ship` path as `FulfillOrder` / `ModifyTracking`: the
//! row's outcome is written in the transaction that applies it, so a crashed processor leaves
//! no row half-applied and a restarted one applies no row twice.

use chrono::{DateTime, Duration, Utc};
use diesel::{Connection, PgConnection};
use fulfillment_core::input::{Actor, check_id, require_merchant};
use fulfillment_core::logging::Truncated;
use fulfillment_core::paging;
use fulfillment_core::repo::bulk_jobs::{self as repo, BulkJob, BulkJobRow, NewBulkJob};
use fulfillment_core::secrets::random_id;
use fulfillment_core::{Clock, ServiceError, ServiceResult, Violations};
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::spreadsheet::{self, RowApplies, RowFailure};
use fulfillment_policy::tracking_number::Channel;

use crate::csv_file::{CsvChunks, FileError, UploadLimits, parse_upload};
use crate::input::TrackingInput;
use crate::policies::PolicyStore;
use crate::ship::{ShipMode, ShipRequest, ship};

pub const PENDING: &str = "PENDING";
pub const ACCEPTED: &str = "ACCEPTED";
pub const REJECTED: &str = "REJECTED";

pub const DEFAULT_ROWS_PAGE: i64 = 100;
pub const MAX_ROWS_PAGE: i64 = 1000;
pub const DEFAULT_JOBS_PAGE: i64 = 20;
pub const MAX_JOBS_PAGE: i64 = 100;
const MAX_FILE_NAME: usize = 255;
/// Pending rows read per round by a processor.
const LINES_PER_ROUND: i64 = 200;
/// Tries for a row whose transaction failed for a reason that is not the row's fault.
const MAX_ATTEMPTS: u32 = 3;

/// Validates and stores an upload as a job; nothing of it is applied yet. A file-level problem
/// refuses the whole file, with the reason and what to fix.
pub fn start(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    merchant_id: &str,
    file_name: &str,
    csv: &[u8],
    limits: UploadLimits,
) -> ServiceResult<BulkJob> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    if file_name.chars().count() > MAX_FILE_NAME || file_name.chars().any(char::is_control) {
        v.add(
            "file_name",
            format!("must be at most {MAX_FILE_NAME} characters, without control characters"),
        );
    }
    v.finish("INVALID_BULK_UPLOAD")?;
    let mut parsed = parse_upload(csv, limits).map_err(file_error)?;
    if parsed.rows.is_empty() {
        return Err(ServiceError::invalid(
            "CSV_EMPTY",
            "csv",
            "no row has a carrier, tracking number or origin country filled in",
        ));
    }
    fulfillment_core::repo::merchants::find(conn, merchant_id)?
        .ok_or_else(|| ServiceError::not_found("merchant", merchant_id))?;

    let id = random_id("bulk").map_err(ServiceError::internal)?;
    let rows: Vec<BulkJobRow> = std::mem::take(&mut parsed.rows)
        .into_iter()
        .map(|row| {
            let (outcome, reason, message, processed_at) = match row.problem {
                None => (PENDING, String::new(), String::new(), None),
                Some(p) => (REJECTED, p.reason.to_owned(), p.message, Some(now)),
            };
            BulkJobRow {
                job_id: id.clone(),
                line: row.line,
                order_id: row.order_id,
                carrier: row.carrier,
                tracking_number: row.tracking_number,
                origin_country: row.origin_country,
                outcome: outcome.to_owned(),
                reason,
                message,
                processed_at,
            }
        })
        .collect();
    let total = count(rows.len());
    let rejected = count(rows.iter().filter(|r| r.outcome == REJECTED).count());
    let done = rejected == total;
    let job = repo::insert_job(
        conn,
        &NewBulkJob {
            id: &id,
            merchant_id,
            file_name,
            actor: &actor.0,
            state: if done { "COMPLETED" } else { "PENDING" },
            total_rows: total,
            processed_rows: rejected,
            accepted_rows: 0,
            rejected_rows: rejected,
            skipped_rows: count(parsed.skipped),
            created_at: now,
            finished_at: done.then_some(now),
        },
    )?;
    repo::insert_rows(conn, &rows)?;
    tracing::info!(job_id = %job.id, merchant_id, rows = total, rejected_at_upload = rejected, "bulk job stored");
    Ok(job)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn file_error(error: FileError) -> ServiceError {
    ServiceError::invalid(error.reason(), "csv", error.to_string())
}

/// A merchant's job; another merchant's job is not found.
pub fn get(conn: &mut PgConnection, merchant_id: &str, job_id: &str) -> ServiceResult<BulkJob> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    check_id(&mut v, "job_id", job_id);
    v.finish("INVALID_BULK_JOB_REQUEST")?;
    require_merchant(conn, merchant_id)?;
    let job = repo::find(conn, merchant_id, job_id)?
        .ok_or_else(|| ServiceError::not_found("bulk job", job_id))?;
    with_live_counts(conn, job)
}

/// An unfinished job's counts come from its rows (the job row is counted when it completes,
/// so parallel appliers never queue on it).
fn with_live_counts(conn: &mut PgConnection, mut job: BulkJob) -> ServiceResult<BulkJob> {
    if job.finished_at.is_none() {
        (job.processed_rows, job.accepted_rows, job.rejected_rows) =
            repo::live_counts(conn, &job.id)?;
    }
    Ok(job)
}

/// A job with a page of its rows in file order; the token is the last line returned.
pub fn get_with_rows(
    conn: &mut PgConnection,
    merchant_id: &str,
    job_id: &str,
    page_size_requested: i32,
    page_token: &str,
) -> ServiceResult<(BulkJob, Vec<BulkJobRow>, String)> {
    let mut v = Violations::new();
    let size = paging::page_size(
        &mut v,
        page_size_requested,
        DEFAULT_ROWS_PAGE,
        MAX_ROWS_PAGE,
    );
    let after = if page_token.is_empty() {
        1
    } else {
        match page_token.parse::<i32>() {
            Ok(line) if line >= 1 => line,
            _ => {
                v.add("page_token", "is not a token from a previous response");
                1
            }
        }
    };
    v.finish("INVALID_PAGE")?;
    let job = get(conn, merchant_id, job_id)?;
    let rows = repo::rows(conn, &job.id, after, size)?;
    let next = if rows.len() as i64 == size {
        rows.last().map(|r| r.line.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((job, rows, next))
}

/// Every row of a job as CSV, chunk by chunk, for download.
pub fn rows_csv(
    conn: &mut PgConnection,
    merchant_id: &str,
    job_id: &str,
    mut sink: impl FnMut(Vec<u8>) -> bool,
) -> ServiceResult<()> {
    let job = get(conn, merchant_id, job_id)?;
    let mut csv = CsvChunks::new(crate::export::CHUNK_BYTES);
    csv.write([
        "Line",
        "Order ID",
        "Carrier",
        "Tracking Number",
        "Origin Country",
        "Outcome",
        "Reason",
        "Message",
    ]);
    let mut after = 1;
    loop {
        let rows = repo::rows(conn, &job.id, after, MAX_ROWS_PAGE)?;
        let Some(last) = rows.last() else { break };
        after = last.line;
        for row in &rows {
            csv.write([
                row.line.to_string().as_str(),
                &row.order_id,
                &row.carrier,
                &row.tracking_number,
                &row.origin_country,
                &row.outcome,
                &row.reason,
                &row.message,
            ]);
        }
        if let Some(chunk) = csv.take_full()
            && !sink(chunk)
        {
            return Ok(());
        }
    }
    sink(csv.finish());
    Ok(())
}

/// `"<created_at micros>.<id>"` of the last job returned.
fn decode_jobs_token(token: &str) -> Option<(DateTime<Utc>, String)> {
    let (micros, id) = token.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    (!id.is_empty()).then(|| (at, id.to_owned()))
}

/// The merchant's bulk history, newest first.
pub fn list(
    conn: &mut PgConnection,
    merchant_id: &str,
    page_size_requested: i32,
    page_token: &str,
) -> ServiceResult<(Vec<BulkJob>, String)> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let size = paging::page_size(
        &mut v,
        page_size_requested,
        DEFAULT_JOBS_PAGE,
        MAX_JOBS_PAGE,
    );
    let after = paging::page_after(
        &mut v,
        page_token,
        decode_jobs_token,
        "is not a token from a previous response",
    );
    v.finish("INVALID_PAGE")?;
    require_merchant(conn, merchant_id)?;
    let jobs = repo::list(conn, merchant_id, after, size)?
        .into_iter()
        .map(|job| with_live_counts(conn, job))
        .collect::<ServiceResult<Vec<_>>>()?;
    let next = match jobs.last() {
        Some(last) if jobs.len() as i64 == size => {
            format!("{}.{}", last.created_at.timestamp_micros(), last.id)
        }
        _ => String::new(),
    };
    Ok((jobs, next))
}

/// Whether a failed row is the row's fault (rejected with the reason) rather than a passing
/// problem of ours (retried).
fn is_rejection(error: &ServiceError) -> bool {
    !matches!(
        error,
        ServiceError::Aborted { .. } | ServiceError::Unavailable(_) | ServiceError::Internal(_)
    )
}

/// Applies one row as `FulfillOrder` would, or as `ModifyTracking` for an order already shipped.
fn apply_row(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policies: &PolicyStore,
    actor: &Actor,
    merchant_id: &str,
    row: &BulkJobRow,
) -> ServiceResult<()> {
    let order = fulfillment_core::repo::orders::find(conn, merchant_id, &row.order_id)?
        .ok_or_else(|| ServiceError::not_found("order", &row.order_id))?;
    let state = order
        .state
        .parse::<OrderState>()
        .map_err(ServiceError::internal)?;
    let mode = match spreadsheet::row_applies(state) {
        RowApplies::ModifyTracking => ShipMode::ModifyTracking,
        RowApplies::Fulfil => ShipMode::Fulfil,
    };
    let policy = policies.at(conn, now)?;
    ship(
        conn,
        now,
        &policy,
        actor,
        &ShipRequest {
            merchant_id: merchant_id.to_owned(),
            order_ids: vec![row.order_id.clone()],
            tracking: TrackingInput {
                tracking_number: row.tracking_number.clone(),
                carrier: row.carrier.clone(),
                origin_country: row.origin_country.clone(),
                // The spreadsheet is part of the merchant dashboard (R12 treats it as such).
                channel: Channel::Dashboard,
            },
            mode,
        },
    )?;
    Ok(())
}

/// The actor the job's changes are recorded under: the uploader, and the job.
fn job_actor(job: &BulkJob) -> Actor {
    Actor(format!("{}:bulk:{}", job.actor, job.id))
}

/// Applies one line in its own transaction; `false` if it was no longer pending.
fn process_line(
    conn: &mut PgConnection,
    clock: &dyn Clock,
    policies: &PolicyStore,
    job: &BulkJob,
    line: i32,
) -> ServiceResult<bool> {
    let actor = job_actor(job);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let now = clock.now();
        let result = conn.transaction::<_, ServiceError, _>(|conn| {
            let Some(mut row) = repo::lock_pending_row(conn, &job.id, line)? else {
                return Ok(false);
            };
            // A savepoint: a rejected row leaves nothing of itself behind.
            let Err(e) = conn.transaction(|conn| {
                apply_row(conn, now, policies, &actor, &job.merchant_id, &row)
            }) else {
                row.outcome = ACCEPTED.to_owned();
                repo::record_outcome(conn, &row, now)?;
                return Ok(true);
            };
            match spreadsheet::after_failure(is_rejection(&e), attempt, MAX_ATTEMPTS) {
                RowFailure::Rejected => {
                    row.outcome = REJECTED.to_owned();
                    row.reason = e.reason().to_owned();
                    row.message = e.to_string();
                }
                RowFailure::GaveUp => {
                    tracing::error!(job_id = %job.id, line, error = %e, "bulk row failed on every attempt");
                    row.outcome = REJECTED.to_owned();
                    row.reason = "INTERNAL_ERROR".to_owned();
                    row.message = "the row could not be applied; upload it again".to_owned();
                }
                RowFailure::Retry => return Err(e),
            }
            repo::record_outcome(conn, &row, now)?;
            Ok(true)
        });
        match result {
            Err(ServiceError::Aborted { .. }) if attempt < MAX_ATTEMPTS => continue,
            Err(ServiceError::Internal(e)) if attempt < MAX_ATTEMPTS => {
                tracing::warn!(job_id = %job.id, line, error = %Truncated(&e.to_string()), "bulk row failed, retrying");
                continue;
            }
            other => return other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRun {
    /// Every row has its outcome; the job is `COMPLETED`.
    Completed,
    /// `stop` asked to end early; the lease was given back and the job resumes later.
    Stopped,
}

/// Applies a claimed job's pending rows of shard `shard` of `shards` (several appliers, each
/// with its own connection, share a job this way) until none is left or `stop` returns true;
/// the last to finish completes the job. An error (the database went away) leaves the job to be
/// taken up again once its lease expires.
pub fn process_job(
    conn: &mut PgConnection,
    clock: &dyn Clock,
    policies: &PolicyStore,
    job: &BulkJob,
    (shard, shards): (i32, i32),
    lease: Duration,
    stop: &dyn Fn() -> bool,
) -> ServiceResult<JobRun> {
    loop {
        repo::renew_lease(conn, &job.id, clock.now() + lease)?;
        let lines = repo::pending_lines(conn, &job.id, (shard, shards), LINES_PER_ROUND)?;
        if lines.is_empty() {
            if let Some(done) = repo::complete_if_done(conn, &job.id, clock.now())? {
                tracing::info!(
                    job_id = %done.id,
                    accepted = done.accepted_rows,
                    rejected = done.rejected_rows,
                    "bulk job completed"
                );
            }
            return Ok(JobRun::Completed);
        }
        for line in lines {
            if stop() {
                repo::release_lease(conn, &job.id)?;
                return Ok(JobRun::Stopped);
            }
            process_line(conn, clock, policies, job, line)?;
        }
    }
}

/// Claims the oldest job no live processor holds, leased for `lease`.
pub fn claim_next(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease: Duration,
) -> ServiceResult<Option<BulkJob>> {
    Ok(repo::claim_next(conn, now, now + lease)?)
}
