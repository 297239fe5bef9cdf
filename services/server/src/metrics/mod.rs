//! Prometheus metrics at `GET /metrics` on the HTTP (webhook) port, in the text exposition
//! format. `prometheus-client` is the Prometheus project's own Rust client: OpenMetrics-correct
//! encoding, typed label sets (a label value outside its enum cannot be written), few
//! dependencies.
//!
//! Two kinds: what the server counts as it serves (RPCs, webhook deliveries), and what is read
//! from the database at each scrape (pool, bulk jobs, the outbox, the workers' runs), since
//! worker CronJob pods live seconds and cannot be scraped themselves. Label values are bounded:
//! a method of the contract (anything else is `unknown`), a gRPC code name, a worker's name;
//! never an order or merchant id.

use std::sync::Arc;
use std::time::Instant;

use diesel::prelude::*;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

mod carrier_figures;
mod pool_events;

use carrier_figures::{CarrierFigures, Snapshot};
pub use pool_events::PoolEvents;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub grpc_service: String,
    pub grpc_method: String,
    pub grpc_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub grpc_service: String,
    pub grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    pub worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerCountLabels {
    pub worker: String,
    /// A key of the run's counts (`refunded`, `re_released`, `failed`, ...).
    pub count: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerOutcomeLabels {
    pub worker: String,
    /// `completed`, `failed` or `running`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

pub struct Metrics {
    registry: Registry,
    pub rpc_handled: Family<RpcLabels, Counter>,
    pub rpc_seconds: Family<MethodLabels, Histogram>,
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    bulk_jobs: Family<StateLabels, Gauge>,
    bulk_rows_processed: Gauge,
    bulk_rows: Family<OutcomeLabels, Gauge>,
    outbox_events: Gauge,
    outbox_newest_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    outbox_backlog: Family<ConsumerLabels, Gauge>,
    outbox_oldest_age: Family<ConsumerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    worker_last_success: Family<WorkerLabels, Gauge>,
    worker_runs: Family<WorkerOutcomeLabels, Gauge>,
    worker_counts: Family<WorkerCountLabels, Gauge>,
    pool_events: PoolEvents,
    carrier_figures: Arc<CarrierFigures>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let rpc_handled = Family::<RpcLabels, Counter>::default();
        registry.register(
            "grpc_server_handled",
            "RPCs completed, by method and gRPC code",
            rpc_handled.clone(),
        );
        let rpc_seconds = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "grpc_server_handling_seconds",
            "Time to the response headers of an RPC, by method",
            rpc_seconds.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "fulfillment_webhook_deliveries",
            "Intelipost webhook deliveries, by HTTP outcome class",
            webhook_deliveries.clone(),
        );
        let pool_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "fulfillment_db_pool_connections",
            "Pooled PostgreSQL connections, idle or in use",
            pool_connections.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "fulfillment_db_pool_max_connections",
            "The pool's size",
            pool_max.clone(),
        );
        let bulk_jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "fulfillment_bulk_jobs",
            "Bulk CSV jobs by state (R7)",
            bulk_jobs.clone(),
        );
        let bulk_rows_processed = Gauge::default();
        registry.register(
            "fulfillment_bulk_rows_processed",
            "Rows of all bulk jobs processed so far",
            bulk_rows_processed.clone(),
        );
        let bulk_rows = Family::<OutcomeLabels, Gauge>::default();
        registry.register(
            "fulfillment_bulk_rows",
            "Rows of all bulk jobs by outcome: accepted (applied), rejected, skipped (R7)",
            bulk_rows.clone(),
        );
        let outbox_events = Gauge::default();
        registry.register(
            "fulfillment_outbox_events",
            "Events in the outbox (R9)",
            outbox_events.clone(),
        );
        let outbox_newest_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "fulfillment_outbox_newest_event_age_seconds",
            "Age of the newest outbox event",
            outbox_newest_age.clone(),
        );
        let outbox_backlog = Family::<ConsumerLabels, Gauge>::default();
        registry.register(
            "fulfillment_outbox_backlog_events",
            "Outbox events after a consumer's position (ListOutboxEvents with `consumer`), capped at 1,000,000",
            outbox_backlog.clone(),
        );
        let outbox_oldest_age =
            Family::<ConsumerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "fulfillment_outbox_oldest_unconsumed_age_seconds",
            "Age of the oldest outbox event a consumer has not read yet (0 when it is up to date)",
            outbox_oldest_age.clone(),
        );
        let worker_last_success = Family::<WorkerLabels, Gauge>::default();
        registry.register(
            "fulfillment_worker_last_success_timestamp_seconds",
            "Unix time a worker's last run (not a dry run) completed",
            worker_last_success.clone(),
        );
        let worker_runs = Family::<WorkerOutcomeLabels, Gauge>::default();
        registry.register(
            "fulfillment_worker_runs",
            "Recorded worker runs by worker and outcome",
            worker_runs.clone(),
        );
        let worker_counts = Family::<WorkerCountLabels, Gauge>::default();
        registry.register(
            "fulfillment_worker_decisions",
            "Sum over a worker's completed runs (not dry runs) of each count it reports",
            worker_counts.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register("fulfillment_build_info", "The running build", build);
        let pool_events = PoolEvents::register(&mut registry);
        let carrier_figures = Arc::new(CarrierFigures::default());
        registry.register_collector(Box::new(carrier_figures.clone()));
        Self {
            pool_events,
            carrier_figures,
            registry,
            rpc_handled,
            rpc_seconds,
            webhook_deliveries,
            pool_connections,
            pool_max,
            bulk_jobs,
            bulk_rows_processed,
            bulk_rows,
            outbox_events,
            outbox_newest_age,
            outbox_backlog,
            outbox_oldest_age,
            worker_last_success,
            worker_runs,
            worker_counts,
        }
    }

    /// What the pool reports each checkout to (`fulfillment_db_pool_wait_seconds`).
    pub fn pool_events(&self) -> PoolEvents {
        self.pool_events.clone()
    }

    /// One RPC finished (its response headers are out): `path` is `/pkg.Service/Method`.
    pub fn observe_rpc(&self, path: &str, code: &str, started: Instant) {
        let (service, method) = method_labels(path);
        self.rpc_handled
            .get_or_create(&RpcLabels {
                grpc_service: service.clone(),
                grpc_method: method.clone(),
                grpc_code: code.to_owned(),
            })
            .inc();
        self.rpc_seconds
            .get_or_create(&MethodLabels {
                grpc_service: service,
                grpc_method: method,
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// Reads the database-held figures, then encodes everything.
    pub async fn render(&self, state: &AppState) -> String {
        let pool = state.db.pool().state();
        self.pool_max.set(i64::from(state.db.pool().max_size()));
        self.pool_connections
            .get_or_create(&StateLabels {
                state: "idle".into(),
            })
            .set(i64::from(pool.idle_connections));
        self.pool_connections
            .get_or_create(&StateLabels {
                state: "in_use".into(),
            })
            .set(i64::from(pool.connections - pool.idle_connections));
        match state.db.run(|conn| Ok(read_figures(conn)?)).await {
            Ok(figures) => self.apply(figures),
            // Still answer: the pool and RPC figures say the most when the database is down.
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the database figures"),
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }

    fn apply(&self, f: Figures) {
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
        let served_unknown = fulfillment_carriers::normalize::unknown_status_counts()
            .into_iter()
            .map(|c| (c.carrier, c.code, c.count));
        self.carrier_figures.set(Snapshot::from_counts(
            f.carrier_counts.iter().map(|(k, n)| (k.as_str(), *n)),
            served_unknown,
        ));
        for (worker, count, n) in f.counts {
            self.worker_counts
                .get_or_create(&WorkerCountLabels { worker, count })
                .set(n);
        }
    }
}

/// `("fulfillment.v1.FulfillmentService", "GetOrder")` for a method of ours, else `unknown`:
/// the path comes from the caller and must not mint label values.
fn method_labels(path: &str) -> (String, String) {
    let ours = crate::authz::allowed_roles(path).is_some() || crate::authz::is_public(path);
    if let Some((service, method)) = path.trim_start_matches('/').split_once('/')
        && ours
    {
        return (service.to_owned(), method.to_owned());
    }
    ("unknown".into(), "unknown".into())
}

struct Figures {
    bulk_jobs: Vec<(String, i64)>,
    bulk_rows_processed: i64,
    bulk_rows: [(&'static str, i64); 3],
    outbox_events: i64,
    outbox_newest_age_seconds: f64,
    outbox_backlogs: Vec<fulfillment_core::repo::outbox::Backlog>,
    last_success: Vec<(String, i64)>,
    runs: Vec<(String, String, i64)>,
    counts: Vec<(String, String, i64)>,
    /// The poller's carrier figures, by run-count key (`fulfillment_core::run_counts`).
    carrier_counts: Vec<(String, i64)>,
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

fn read_figures(conn: &mut PgConnection) -> QueryResult<Figures> {
    let keyed = |conn: &mut PgConnection, sql: &str| -> QueryResult<Vec<Keyed>> {
        diesel::sql_query(sql).load(conn)
    };
    let bulk = keyed(
        conn,
        "SELECT state AS a, '' AS b, count(*) AS n FROM bulk_jobs GROUP BY state",
    )?;
    let rows: Single = diesel::sql_query(
        "SELECT coalesce(sum(processed_rows), 0)::bigint AS n, 0::float8 AS x FROM bulk_jobs",
    )
    .get_result(conn)?;
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
    // Every outcome has a series, 0 included (no jobs yet reads 0, not "no data").
    let bulk_rows = [
        ("accepted", outcome_rows("accepted")),
        ("rejected", outcome_rows("rejected")),
        ("skipped", outcome_rows("skipped")),
    ];
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
    let pattern = fulfillment_core::run_counts::SQL_PATTERN;
    let counts = keyed(
        conn,
        &format!(
            "SELECT worker AS a, c.key AS b, sum(c.value::bigint)::bigint AS n
             FROM worker_runs, jsonb_each_text(counts) AS c
             WHERE outcome = 'completed' AND NOT dry_run AND c.value ~ '^[0-9]{{1,18}}$'
               AND c.key !~ '{pattern}'
             GROUP BY worker, c.key"
        ),
    )?;
    let carrier_counts = keyed(
        conn,
        &format!(
            "SELECT c.key AS a, '' AS b, sum(c.value::bigint)::bigint AS n
             FROM worker_runs, jsonb_each_text(counts) AS c
             WHERE outcome = 'completed' AND NOT dry_run AND c.value ~ '^[0-9]{{1,18}}$'
               AND c.key ~ '{pattern}'
             GROUP BY c.key"
        ),
    )?;
    Ok(Figures {
        bulk_jobs: bulk.into_iter().map(|k| (k.a, k.n)).collect(),
        bulk_rows_processed: rows.n,
        bulk_rows,
        outbox_events: outbox.n,
        outbox_newest_age_seconds: outbox.x,
        outbox_backlogs: fulfillment_core::repo::outbox::backlogs(conn)?,
        last_success: last.into_iter().map(|k| (k.a, k.n)).collect(),
        runs: runs.into_iter().map(|k| (k.a, k.b, k.n)).collect(),
        counts: counts.into_iter().map(|k| (k.a, k.b, k.n)).collect(),
        carrier_counts: carrier_counts.into_iter().map(|k| (k.a, k.n)).collect(),
    })
}

/// The metrics every part of the server shares.
pub type SharedMetrics = Arc<Metrics>;

/// Counts, times and names every gRPC call (the gate's refusals included, as this layer sits
/// outside it). The code is the `grpc-status` of the response headers (tonic answers an error
/// as headers only), else `OK`: a stream that fails after its first message counts as OK.
///
/// Each call runs in a `rpc` span with its method, its request id (an incoming `x-request-id`
/// of up to 128 visible characters is kept, else one is made; either way it is echoed in the
/// response headers) and the trace id of an incoming W3C `traceparent`, so every log line of
/// the call can be found from what the caller saw.
#[derive(Clone)]
pub struct MetricsLayer(pub SharedMetrics);

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: SharedMetrics,
}

type BoxFuture<T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B, RB> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let request_id = request_id(request.headers());
        let (service, method) = method_labels(&path);
        // `caller` and `merchant` are filled in by the gate and the merchant check, which run
        // inside this span.
        let span = tracing::info_span!(
            "rpc",
            method = %format_args!("{service}/{method}"),
            request_id = %request_id,
            trace_id = tracing::field::Empty,
            caller = tracing::field::Empty,
            merchant = tracing::field::Empty,
        );
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        fulfillment_core::telemetry::continue_trace(
            &span,
            header("traceparent"),
            header("tracestate"),
        );
        // The OpenTelemetry trace (the caller's or a new one); without the layer (in-process
        // tests) the caller's, read from the header.
        if let Some(trace) =
            fulfillment_core::telemetry::trace_id(&span).or_else(|| trace_id(request.headers()))
        {
            span.record("trace_id", trace);
        }
        // The clone that was polled ready serves this call (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(
            async move {
                let mut response = inner.call(request).await;
                if let Ok(response) = &mut response
                    && let Ok(value) = http::HeaderValue::from_str(&request_id)
                {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                if let Ok(response) = &response {
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
                    metrics.observe_rpc(&path, code_name(code), started);
                }
                response
            }
            .instrument(span),
        )
    }
}

/// The request id header, read and echoed.
pub const REQUEST_ID: &str = "x-request-id";

/// The caller's request id if it is one we can echo safely, else a new one.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .or_else(|| fulfillment_core::secrets::random_id("req").ok())
        .unwrap_or_else(|| "req-unknown".into())
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if well-formed.
fn trace_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace != "0".repeat(32))
    .then(|| trace.to_ascii_lowercase())
}

/// The gRPC code's canonical name (`INVALID_ARGUMENT`), as Prometheus' gRPC dashboards expect.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(name, http::HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_w3c_traceparent_gives_its_trace_id_and_a_malformed_one_none() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id(&headers("traceparent", ok)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(trace_id(&headers("traceparent", bad)), None, "{bad}");
        }
    }

    #[test]
    fn a_callers_request_id_is_kept_when_safe_and_made_otherwise() {
        assert_eq!(request_id(&headers(REQUEST_ID, "abc-123")), "abc-123");
        let long = "x".repeat(129);
        assert!(request_id(&headers(REQUEST_ID, &long)).starts_with("req-"));
        assert!(request_id(&http::HeaderMap::new()).starts_with("req-"));
    }

    #[test]
    fn only_methods_of_the_contract_become_labels() {
        assert_eq!(
            method_labels("/fulfillment.v1.FulfillmentService/GetOrder"),
            (
                "fulfillment.v1.FulfillmentService".into(),
                "GetOrder".into()
            )
        );
        assert_eq!(
            method_labels("/fulfillment.v1.FulfillmentService/o-123"),
            ("unknown".into(), "unknown".into())
        );
    }
}
