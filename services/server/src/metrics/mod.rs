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

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

mod carrier_figures;
mod layer;
mod pool_events;
mod scraped;

use carrier_figures::{CarrierFigures, Snapshot};
pub use layer::{MetricsLayer, MetricsService, REQUEST_ID};
pub use pool_events::PoolEvents;
use scraped::{ScrapedGauges, read_figures};

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
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// Registers a new metric under `name` and returns it (a metric is a shared handle).
fn register<M>(registry: &mut Registry, name: &str, help: &str) -> M
where
    M: prometheus_client::registry::Metric + Clone + Default,
{
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}

pub struct Metrics {
    registry: Registry,
    pub rpc_handled: Family<RpcLabels, Counter>,
    pub rpc_seconds: Family<MethodLabels, Histogram>,
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    scraped: ScrapedGauges,
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
        let rpc_handled = register(
            &mut registry,
            "grpc_server_handled",
            "RPCs completed, by method and gRPC code",
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
        let webhook_deliveries = register(
            &mut registry,
            "fulfillment_webhook_deliveries",
            "Intelipost webhook deliveries, by HTTP outcome class",
        );
        let scraped = ScrapedGauges::register(&mut registry);
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
            registry,
            rpc_handled,
            rpc_seconds,
            webhook_deliveries,
            scraped,
            pool_events,
            carrier_figures,
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
        self.scraped.set_pool(
            state.db.pool().max_size(),
            pool.connections,
            pool.idle_connections,
        );
        match state.db.run(|conn| Ok(read_figures(conn)?)).await {
            Ok(mut figures) => {
                let carrier_counts = std::mem::take(&mut figures.carrier_counts);
                self.scraped.apply(figures);
                let served_unknown = fulfillment_carriers::normalize::unknown_status_counts()
                    .into_iter()
                    .map(|c| (c.carrier, c.code, c.count));
                self.carrier_figures.set(Snapshot::from_counts(
                    carrier_counts.iter().map(|(k, n)| (k.as_str(), *n)),
                    served_unknown,
                ));
            }
            // Still answer: the pool and RPC figures say the most when the database is down.
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the database figures"),
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
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

/// The metrics every part of the server shares.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;

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
