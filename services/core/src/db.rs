//! Connection pool, embedded migrations, and the bridge that keeps synchronous Diesel work off
//! the async runtime.

use std::time::Duration;

use diesel::Connection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{ServiceError, ServiceResult};

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// What a build without the embedded cluster (`pg-bootstrap`) holds where the cluster's guard
/// would be: the database is someone else's, so there is nothing to keep alive. `must_use` like
/// the guard, so callers treat both alike (hold it for the run, then drop it).
#[derive(Debug)]
#[must_use]
pub struct ExternalDatabase;

#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL is required: this build has no embedded PostgreSQL")]
pub struct DatabaseUrlRequired;

/// The URL a build without the embedded cluster must be given.
pub fn require_database_url(
    explicit: Option<&str>,
) -> Result<(ExternalDatabase, String), DatabaseUrlRequired> {
    match explicit {
        Some(url) if !url.is_empty() => Ok((ExternalDatabase, url.to_owned())),
        _ => Err(DatabaseUrlRequired),
    }
}

/// Builds a pool of `max_size` connections; fails fast if the first connection cannot be made.
pub fn build_pool(url: &str, max_size: u32) -> Result<PgPool, DbSetupError> {
    build_pool_with_statement_timeout(url, max_size, None)
}

/// Sets `statement_timeout` on every pooled connection, so work for a call whose deadline has
/// passed (the blocking thread outlives the cancelled future) cannot run on indefinitely.
#[derive(Debug, Clone, Copy)]
struct StatementTimeout(Duration);

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for StatementTimeout {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(&format!("SET statement_timeout = {}", self.0.as_millis()))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// [`build_pool`], with each statement limited to `statement_timeout` when given.
pub fn build_pool_with_statement_timeout(
    url: &str,
    max_size: u32,
    statement_timeout: Option<Duration>,
) -> Result<PgPool, DbSetupError> {
    build_pool_observed(url, max_size, statement_timeout, None)
}

/// [`build_pool_with_statement_timeout`], reporting each checkout to `events` (the server's
/// pool-wait metrics).
pub fn build_pool_observed(
    url: &str,
    max_size: u32,
    statement_timeout: Option<Duration>,
    events: Option<Box<dyn diesel::r2d2::HandleEvent>>,
) -> Result<PgPool, DbSetupError> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    let mut builder = Pool::builder();
    if let Some(timeout) = statement_timeout {
        builder = builder.connection_customizer(Box::new(StatementTimeout(timeout)));
    }
    if let Some(events) = events {
        builder = builder.event_handler(events);
    }
    let pool = builder
        .max_size(max_size)
        .min_idle(Some(max_size.min(4)))
        .connection_timeout(Duration::from_secs(5))
        .test_on_check_out(false)
        .build(manager)?;
    Ok(pool)
}

/// One connection, for commands that run a single job and exit.
pub fn connect(url: &str) -> Result<PgConnection, DbSetupError> {
    Ok(PgConnection::establish(url)?)
}

/// Applies pending migrations; returns the versions applied now.
pub fn run_migrations(url: &str) -> Result<Vec<String>, DbSetupError> {
    let mut conn = connect(url)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| DbSetupError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Pooled database access for async code: each call runs on the blocking thread pool.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> ServiceResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(ServiceError::internal)?
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub async fn transaction<T, F>(&self, f: F) -> ServiceResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.transaction_begun_with("BEGIN", f).await
    }

    /// [`Db::transaction`], begun on generic plans ([`crate::prepared::BEGIN_ON_GENERIC_PLANS`]):
    /// for a call whose statements are the ship path's and primary-key ones only.
    pub async fn transaction_on_generic_plans<T, F>(&self, f: F) -> ServiceResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.transaction_begun_with(crate::prepared::BEGIN_ON_GENERIC_PLANS, f)
            .await
    }

    async fn transaction_begun_with<T, F>(&self, begin_sql: &'static str, f: F) -> ServiceResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = begin(&pool, begin_sql)?;
            match f(&mut conn) {
                Ok(value) => {
                    AnsiTransactionManager::commit_transaction(&mut *conn)?;
                    Ok(value)
                }
                Err(error) => {
                    // The caller's error is the one that matters; a failed rollback leaves the
                    // connection broken, and the pool discards it.
                    let _ = AnsiTransactionManager::rollback_transaction(&mut *conn);
                    Err(error)
                }
            }
        })
        .await
        .map_err(ServiceError::internal)?
    }
}

/// A pooled connection with a transaction begun. A connection PostgreSQL closed while it sat in
/// the pool (a restart, a failover, an idle timeout) fails at `BEGIN`, before the call did
/// anything: it is set aside (the pool discards a broken connection when it comes back) and the
/// next one is tried, so no call fails once PostgreSQL is back. Every pooled connection may be
/// stale after a restart, hence up to the pool's size plus one attempts.
fn begin(pool: &PgPool, begin_sql: &str) -> ServiceResult<PgPooled> {
    use diesel::connection::AnsiTransactionManager;
    let attempts = pool.max_size() + 1;
    let mut attempt = 1;
    loop {
        let mut conn = pool.get()?;
        match AnsiTransactionManager::begin_transaction_sql(&mut *conn, begin_sql) {
            Ok(()) => return Ok(conn),
            Err(error) if is_connection_lost(&error) && attempt < attempts => {
                tracing::info!(attempt, error = %error, "a pooled connection was closed by the server; taking another");
                attempt += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The connection itself is gone (not the statement refused).
pub fn is_connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}
