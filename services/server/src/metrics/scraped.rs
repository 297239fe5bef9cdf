//! What is read from the database at each scrape (pool, bulk jobs, the outbox, the workers'
//! runs): worker CronJob pods live seconds and cannot be scraped themselves.

use diesel::prelude::*;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{OutcomeLabels, StateLabels, register};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerCountLabels {
    worker: String,
    /// A key of the run's counts (`refunded`, `re_released`, `failed`, ...).
    count: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerOutcomeLabels {
    worker: String,
    /// `completed`, `failed` or `running`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: String,
}

type SecondsGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The gauges set from the database's figures at each scrape.
pub(super) struct ScrapedGauges {
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    bulk_jobs: Family<StateLabels, Gauge>,
    bulk_rows_processed: Gauge,
    bulk_rows: Family<OutcomeLabels, Gauge>,
    outbox_events: Gauge,
    outbox_newest_age: SecondsGauge,
    outbox_backlog: Family<ConsumerLabels, Gauge>,
    outbox_oldest_age: Family<ConsumerLabels, SecondsGauge>,
    worker_last_success: Family<WorkerLabels, Gauge>,
    worker_runs: Family<WorkerOutcomeLabels, Gauge>,
    worker_counts: Family<WorkerCountLabels, Gauge>,
}

impl ScrapedGauges {
    pub(super) fn register(r: &mut Registry) -> Self {
        Self {
            pool_connections: register(
                r,
                "fulfillment_db_pool_connections",
                "Pooled PostgreSQL connections, idle or in use",
            ),
            pool_max: register(r, "fulfillment_db_pool_max_connections", "The pool's size"),
            bulk_jobs: register(r, "fulfillment_bulk_jobs", "Bulk CSV jobs by state (R7)"),
            bulk_rows_processed: register(
                r,
                "fulfillment_bulk_rows_processed",
                "Rows of all bulk jobs processed so far",
            ),
            bulk_rows: register(
                r,
                "fulfillment_bulk_rows",
                "Rows of all bulk jobs by outcome: accepted (applied), rejected, skipped (R7)",
            ),
            outbox_events: register(r, "fulfillment_outbox_events", "Events in the outbox (R9)"),
            outbox_newest_age: register(
                r,
                "fulfillment_outbox_newest_event_age_seconds",
                "Age of the newest outbox event",
            ),
            outbox_backlog: register(
                r,
                "fulfillment_outbox_backlog_events",
                "Outbox events after a consumer's position (ListOutboxEvents with `consumer`), capped at 1,000,000",
            ),
            outbox_oldest_age: register(
                r,
                "fulfillment_outbox_oldest_unconsumed_age_seconds",
                "Age of the oldest outbox event a consumer has not read yet (0 when it is up to date)",
            ),
            worker_last_success: register(
                r,
                "fulfillment_worker_last_success_timestamp_seconds",
                "Unix time a worker's last run (not a dry run) completed",
            ),
            worker_runs: register(
                r,
                "fulfillment_worker_runs",
                "Recorded worker runs by worker and outcome",
            ),
            worker_counts: register(
                r,
                "fulfillment_worker_decisions",
                "Sum over a worker's completed runs (not dry runs) of each count it reports",
            ),
        }
    }

    /// The pool's size and use, read from the pool itself (no query).
    pub(super) fn set_pool(&self, max: u32, connections: u32, idle: u32) {
        self.pool_max.set(i64::from(max));
        let state = |state: &str| StateLabels {
            state: state.into(),
        };
        self.pool_connections
            .get_or_create(&state("idle"))
            .set(i64::from(idle));
        self.pool_connections
            .get_or_create(&state("in_use"))
            .set(i64::from(connections - idle));
    }

    pub(super) fn apply(&self, f: Figures) {
        // Every state has a series, 0 included: an alert or a panel on a state with no jobs yet
        // reads 0, not "no data".
        for state in ["PENDING", "RUNNING", "COMPLETED", "FAILED"] {
            self.bulk_jobs
                .get_or_create(&StateLabels {
                    state: state.into(),
                })
                .set(0);
        }
        for (state, n) in f.bulk_jobs {
            self.bulk_jobs.get_or_create(&StateLabels { state }).set(n);
        }
        self.bulk_rows_processed.set(f.bulk_rows_processed);
        for (outcome, n) in f.bulk_rows {
            self.bulk_rows
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.into(),
                })
                .set(n);
        }
        self.outbox_events.set(f.outbox_events);
        self.outbox_newest_age.set(f.outbox_newest_age_seconds);
        // A consumer that was dropped from the table leaves no stale series.
        self.outbox_backlog.clear();
        self.outbox_oldest_age.clear();
        for backlog in f.outbox_backlogs {
            let labels = ConsumerLabels {
                consumer: backlog.consumer,
            };
            self.outbox_backlog
                .get_or_create(&labels)
                .set(backlog.events);
            self.outbox_oldest_age
                .get_or_create(&labels)
                .set(backlog.oldest_age_seconds);
        }
        for (worker, at) in f.last_success {
            self.worker_last_success
                .get_or_create(&WorkerLabels { worker })
                .set(at);
        }
        for (worker, outcome, n) in f.runs {
            self.worker_runs
                .get_or_create(&WorkerOutcomeLabels { worker, outcome })
                .set(n);
        }
        for (worker, count, n) in f.counts {
            self.worker_counts
                .get_or_create(&WorkerCountLabels { worker, count })
                .set(n);
        }
    }
}

pub(super) struct Figures {
    pub bulk_jobs: Vec<(String, i64)>,
    pub bulk_rows_processed: i64,
    pub bulk_rows: [(&'static str, i64); 3],
    pub outbox_events: i64,
    pub outbox_newest_age_seconds: f64,
    pub outbox_backlogs: Vec<fulfillment_core::repo::outbox::Backlog>,
    pub last_success: Vec<(String, i64)>,
    pub runs: Vec<(String, String, i64)>,
    pub counts: Vec<(String, String, i64)>,
    /// The poller's carrier figures, by run-count key (`fulfillment_core::run_counts`).
    pub carrier_counts: Vec<(String, i64)>,
}

#[derive(QueryableByName)]
struct Keyed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    a: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    b: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Single {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    x: f64,
}

fn keyed(conn: &mut PgConnection, sql: &str) -> QueryResult<Vec<Keyed>> {
    diesel::sql_query(sql).load(conn)
}

/// Rows of all bulk jobs by outcome; every outcome has a series, 0 included (no jobs yet reads
/// 0, not "no data").
fn bulk_rows(conn: &mut PgConnection) -> QueryResult<[(&'static str, i64); 3]> {
    let by_outcome = keyed(
        conn,
        "SELECT 'all' AS a, o.outcome AS b, coalesce(sum(o.n), 0)::bigint AS n
         FROM bulk_jobs, LATERAL (VALUES ('accepted', accepted_rows), ('rejected', rejected_rows),
                                          ('skipped', skipped_rows)) AS o(outcome, n)
         GROUP BY o.outcome",
    )?;
    let outcome_rows = |outcome: &str| {
        by_outcome
            .iter()
            .find(|k| k.b == outcome)
            .map_or(0, |k| k.n)
    };
    Ok([
        ("accepted", outcome_rows("accepted")),
        ("rejected", outcome_rows("rejected")),
        ("skipped", outcome_rows("skipped")),
    ])
}

/// The sums of the workers' completed run counts: those whose key matches the carrier-figure
/// pattern (`carrier: true`) or the others.
fn run_count_sums(conn: &mut PgConnection, carrier: bool) -> QueryResult<Vec<Keyed>> {
    let pattern = fulfillment_core::run_counts::SQL_PATTERN;
    let (a, b, matches, group) = if carrier {
        ("c.key", "''", "~", "c.key")
    } else {
        ("worker", "c.key", "!~", "worker, c.key")
    };
    keyed(
        conn,
        &format!(
            "SELECT {a} AS a, {b} AS b, sum(c.value::bigint)::bigint AS n
             FROM worker_runs, jsonb_each_text(counts) AS c
             WHERE outcome = 'completed' AND NOT dry_run AND c.value ~ '^[0-9]{{1,18}}$'
               AND c.key {matches} '{pattern}'
             GROUP BY {group}"
        ),
    )
}

pub(super) fn read_figures(conn: &mut PgConnection) -> QueryResult<Figures> {
    let bulk = keyed(
        conn,
        "SELECT state AS a, '' AS b, count(*) AS n FROM bulk_jobs GROUP BY state",
    )?;
    let rows: Single = diesel::sql_query(
        "SELECT coalesce(sum(processed_rows), 0)::bigint AS n, 0::float8 AS x FROM bulk_jobs",
    )
    .get_result(conn)?;
    // The outbox's id follows insertion: its newest row is the last, found by the primary key.
    let outbox: Single = diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox) AS n,
                coalesce((SELECT extract(epoch FROM now() - created_at)::float8
                          FROM outbox ORDER BY id DESC LIMIT 1), 0) AS x",
    )
    .get_result(conn)?;
    let last = keyed(
        conn,
        "SELECT worker AS a, '' AS b, extract(epoch FROM max(finished_at))::bigint AS n
         FROM worker_runs WHERE outcome = 'completed' AND NOT dry_run GROUP BY worker",
    )?;
    let runs = keyed(
        conn,
        "SELECT worker AS a, outcome AS b, count(*) AS n FROM worker_runs GROUP BY worker, outcome",
    )?;
    Ok(Figures {
        bulk_jobs: bulk.into_iter().map(|k| (k.a, k.n)).collect(),
        bulk_rows_processed: rows.n,
        bulk_rows: bulk_rows(conn)?,
        outbox_events: outbox.n,
        outbox_newest_age_seconds: outbox.x,
        outbox_backlogs: fulfillment_core::repo::outbox::backlogs(conn)?,
        last_success: last.into_iter().map(|k| (k.a, k.n)).collect(),
        runs: runs.into_iter().map(|k| (k.a, k.b, k.n)).collect(),
        counts: run_count_sums(conn, false)?
            .into_iter()
            .map(|k| (k.a, k.b, k.n))
            .collect(),
        carrier_counts: run_count_sums(conn, true)?
            .into_iter()
            .map(|k| (k.a, k.n))
            .collect(),
    })
}
