//! What every worker binary does first: logs, the database (as the server finds it), the clock.

use std::sync::Arc;

use anyhow::Context;
#[cfg(feature = "embedded-postgres")]
use fulfillment_core::pg_bootstrap::{PgTarget, resolve_database};
use fulfillment_core::{Clock, Db, SharedClock, SystemClock, db};

/// Logs and traces as every binary's (`fulfillment_core::logging`): hold the guard for the
/// whole run, so the run's spans are flushed to the collector before the process exits.
#[must_use = "dropping the guard ends trace export"]
pub fn init_logging(worker: &'static str) -> fulfillment_core::telemetry::Telemetry {
    fulfillment_core::logging::init(worker)
}

/// `DATABASE_URL`, else the embedded default the server uses. The schema must exist
/// (`fulfillment-server migrate`): workers never migrate, so they can run many at once.
#[cfg(feature = "embedded-postgres")]
pub async fn database(pool_size: u32) -> anyhow::Result<(PgTarget, Db)> {
    let explicit = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let (target, url) = tokio::task::spawn_blocking(move || resolve_database(explicit.as_deref()))
        .await?
        .context("finding PostgreSQL")?;
    let pool = db::build_pool(&url, pool_size).context("connecting to PostgreSQL")?;
    Ok((target, Db::new(pool)))
}

/// `DATABASE_URL`, required: this build has no embedded PostgreSQL.
#[cfg(not(feature = "embedded-postgres"))]
pub async fn database(pool_size: u32) -> anyhow::Result<(db::ExternalDatabase, Db)> {
    let explicit = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let (target, url) = db::require_database_url(explicit.as_deref())?;
    let pool = db::build_pool(&url, pool_size).context("connecting to PostgreSQL")?;
    Ok((target, Db::new(pool)))
}

pub fn clock() -> SharedClock {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    clock
}
