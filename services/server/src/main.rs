//! `fulfillment-server`: serve the gRPC API, or `migrate` the database and exit.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
#[cfg(feature = "embedded-postgres")]
use fulfillment_core::pg_bootstrap::{self, PgTarget};
use fulfillment_core::secrets::Keyring;
use fulfillment_core::{Clock, SystemClock, db};
use fulfillment_dispatch::carrier_accounts;
use fulfillment_dispatch::dispatch;
use fulfillment_orders::csv_file::UploadLimits;
use fulfillment_orders::demo::load_demo_data;
use fulfillment_server::app::{self, Limits, ServeOptions};
use fulfillment_server::auth::TokenTable;
use fulfillment_server::gate::SharedTokens;
use fulfillment_server::reload::watch_file;
use fulfillment_server::state::AppState;
use fulfillment_server::tls::{self, ReloadingTls, TlsFiles};
use fulfillment_server::webhook;
use tokio::net::TcpListener;

/// Issue 21: glibc's `malloc`/`free` were 6% of all CPU samples of a FulfillOrder run (many
/// small allocations freed on other threads: tonic's buffers, Diesel's rows); mimalloc's
/// per-thread heaps took FulfillOrder from 0.76 to 0.80 of its own SQL in pgbench
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fulfillment-server",
    version,
    about = "Order fulfilment gRPC service",
    after_help = "Environment only (secrets never come from flags):\n  \
        DATABASE_URL                  PostgreSQL URL; unset: 127.0.0.1:5432 if it answers, else a private cluster\n  \
        FULFILLMENT_AUTH_TOKENS       the tokens file's lines, inline\n  \
        FULFILLMENT_ENCRYPTION_KEYS   the key ring, inline"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations and exit.
    Migrate,
    /// Re-seal every carrier secret still under an older key with the current (first) key of
    /// the key ring, then exit. Safe to repeat and to run while serving.
    RotateSecrets,
}

/// Secrets come from the environment or files, never from flags (they would show in `ps`).
const DATABASE_URL_ENV: &str = "DATABASE_URL";
const TOKENS_ENV: &str = "FULFILLMENT_AUTH_TOKENS";
const KEYS_ENV: &str = "FULFILLMENT_ENCRYPTION_KEYS";

// A flag whose `long`, `env` and default do not fit one line names its `env` in an `#[arg]` of
// its own (clap merges them): one line each, not a block per flag.
#[derive(clap::Args)]
struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "FULFILLMENT_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Listen address for carrier webhooks (the Intelipost push, R14); TLS as for gRPC.
    #[arg(long, default_value = "127.0.0.1:8080")]
    #[arg(env = "FULFILLMENT_WEBHOOK_LISTEN")]
    webhook_listen: SocketAddr,
    /// Largest webhook body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = webhook::DEFAULT_MAX_BODY_BYTES)]
    #[arg(env = "FULFILLMENT_WEBHOOK_MAX_BODY_BYTES")]
    webhook_max_body_bytes: usize,
    /// Load sample merchants and orders.
    #[arg(long)]
    demo: bool,
    /// Database connections in the pool.
    #[arg(long, env = "FULFILLMENT_POOL_SIZE", default_value_t = 16)]
    pool_size: u32,
    /// How often readiness asks PostgreSQL (ms); the services turn NOT_SERVING after three
    /// intervals without an answer, and SERVING again at the next one.
    #[arg(long, default_value_t = 1000)]
    #[arg(env = "FULFILLMENT_READINESS_INTERVAL_MS")]
    readiness_interval_ms: u64,
    /// Hours an idempotency key is remembered; older keys count as never seen and are removed.
    #[arg(long, default_value_t = 24)]
    #[arg(env = "FULFILLMENT_IDEMPOTENCY_RETENTION_HOURS")]
    idempotency_retention_hours: u64,
    /// Bulk CSV job processors in this server (R7); 0: store uploads for other replicas.
    #[arg(long, env = "FULFILLMENT_BULK_PROCESSORS", default_value_t = 1)]
    bulk_processors: usize,
    /// Rows of one bulk job a processor applies at once, each on its own pooled connection.
    #[arg(long, env = "FULFILLMENT_BULK_PARALLELISM", default_value_t = 4)]
    bulk_parallelism: usize,
    /// Most data rows in one CSV upload (its bytes are bounded by --max-message-bytes).
    #[arg(long, env = "FULFILLMENT_BULK_MAX_ROWS", default_value_t = 50_000)]
    bulk_max_rows: usize,
    /// Seconds a crashed processor's bulk job waits before another processor takes it over.
    #[arg(long, env = "FULFILLMENT_BULK_LEASE_SECS", default_value_t = 60)]
    bulk_lease_secs: u64,
    #[command(flatten)]
    security: SecurityArgs,
    #[command(flatten)]
    dispatch: DispatchArgs,
}

/// The carriers' dispatch services (R20, docs/dispatch.md). Credentials are per carrier
/// account (ConnectCarrierAccount), never configured here.
#[derive(clap::Args)]
struct DispatchArgs {
    /// InPost ShipX base URL (without /v1).
    #[arg(long, env = "FULFILLMENT_DISPATCH_INPOST_URL", default_value = dispatch::INPOST_URL)]
    dispatch_inpost_url: String,
    /// Poczta Polska Elektroniczny Nadawca endpoint.
    #[arg(long, default_value = dispatch::POCZTA_POLSKA_URL)]
    #[arg(env = "FULFILLMENT_DISPATCH_POCZTA_POLSKA_URL")]
    dispatch_poczta_polska_url: String,
    /// Paczka w Ruchu (ORLEN Paczka) web service endpoint.
    #[arg(long, default_value = dispatch::PACZKA_W_RUCHU_URL)]
    #[arg(env = "FULFILLMENT_DISPATCH_PACZKA_W_RUCHU_URL")]
    dispatch_paczka_w_ruchu_url: String,
    /// Whole-request timeout of one carrier call, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    #[arg(env = "FULFILLMENT_DISPATCH_TIMEOUT_MS")]
    dispatch_timeout_ms: u64,
    /// Times a new InPost shipment is asked for its tracking number.
    #[arg(long, env = "FULFILLMENT_DISPATCH_INPOST_POLLS", default_value_t = 10)]
    dispatch_inpost_polls: u32,
    /// Pause between those polls, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    #[arg(env = "FULFILLMENT_DISPATCH_INPOST_POLL_INTERVAL_MS")]
    dispatch_inpost_poll_interval_ms: u64,
    /// Orders of one CreateShipments or GetLabels call sent to carriers at the same time.
    #[arg(long, env = "FULFILLMENT_DISPATCH_CONCURRENCY", default_value_t = 8)]
    dispatch_concurrency: usize,
}

impl DispatchArgs {
    fn config(&self, max_message_bytes: usize) -> dispatch::DispatchConfig {
        dispatch::DispatchConfig {
            inpost_url: self.dispatch_inpost_url.clone(),
            poczta_polska_url: self.dispatch_poczta_polska_url.clone(),
            paczka_w_ruchu_url: self.dispatch_paczka_w_ruchu_url.clone(),
            timeout: Duration::from_millis(self.dispatch_timeout_ms.max(1)),
            inpost_polls: self.dispatch_inpost_polls,
            inpost_poll_interval: Duration::from_millis(self.dispatch_inpost_poll_interval_ms),
            concurrency: self.dispatch_concurrency.max(1),
            // Room for the rest of the GetLabels answer.
            max_label_bytes: max_message_bytes.saturating_sub(64 * 1024).max(1),
        }
    }
}

#[derive(clap::Args)]
struct SecurityArgs {
    /// Callers, one a line: `ROLE SHA256_HEX_OF_TOKEN [MERCHANT_IDS]`. Without tokens the
    /// server runs open, and only on loopback addresses. Reloaded when it changes.
    #[arg(long, env = "FULFILLMENT_AUTH_TOKENS_FILE")]
    auth_tokens_file: Option<PathBuf>,
    /// Key ring sealing carrier credentials: `ID:HEX64` entries, current key first (see
    /// docs/security.md). Or inline in the FULFILLMENT_ENCRYPTION_KEYS environment variable.
    #[arg(long, env = "FULFILLMENT_ENCRYPTION_KEYS_FILE")]
    encryption_keys_file: Option<PathBuf>,
    /// Serve gRPC reflection (grpcurl needs it; production may switch it off).
    #[arg(long, env = "FULFILLMENT_REFLECTION", default_value_t = true, action = clap::ArgAction::Set)]
    reflection: bool,
    /// PEM certificate chain: serve TLS.
    #[arg(long, env = "FULFILLMENT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "FULFILLMENT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA bundle: require client certificates signed by it (mutual TLS).
    #[arg(long, env = "FULFILLMENT_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// How often certificate and token files are checked for changes, in seconds.
    #[arg(long, env = "FULFILLMENT_RELOAD_INTERVAL_SECS", default_value_t = 10)]
    reload_interval_secs: u64,
    /// Largest request or response message, in bytes.
    #[arg(long, env = "FULFILLMENT_MAX_MESSAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    max_message_bytes: usize,
    /// Longest a call may run, in seconds (a shorter client deadline wins).
    #[arg(long, env = "FULFILLMENT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Calls one caller may have in flight at once.
    #[arg(long, default_value_t = 64)]
    #[arg(env = "FULFILLMENT_MAX_IN_FLIGHT_PER_CALLER")]
    max_in_flight_per_caller: usize,
}

impl SecurityArgs {
    fn reload_every(&self) -> Duration {
        Duration::from_secs(self.reload_interval_secs.max(1))
    }

    /// The token table, watched for changes when it comes from a file. `None` means open mode,
    /// which is refused unless every listener is on loopback.
    fn tokens(&self, listeners: &[SocketAddr]) -> anyhow::Result<Option<SharedTokens>> {
        let inline = std::env::var(TOKENS_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let table = match (&self.auth_tokens_file, inline) {
            (Some(path), _) => TokenTable::load(path)?,
            (None, Some(text)) => TokenTable::parse(&text)?,
            (None, None) => {
                if let Some(open) = listeners.iter().find(|a| !a.ip().is_loopback()) {
                    anyhow::bail!(
                        "refusing to listen on {open} without authentication: set \
                         --auth-tokens-file (FULFILLMENT_AUTH_TOKENS_FILE), or listen on a \
                         loopback address for local development"
                    );
                }
                tracing::warn!(
                    "no auth tokens configured: every call is allowed (loopback listeners only)"
                );
                return Ok(None);
            }
        };
        tracing::info!(callers = table.len(), "auth tokens loaded");
        let shared: SharedTokens = Arc::new(RwLock::new(Arc::new(table)));
        if let Some(path) = &self.auth_tokens_file {
            let target = shared.clone();
            let file = path.clone();
            watch_file(path, self.reload_every(), "auth tokens", move || {
                let table = TokenTable::load(&file).map_err(|e| e.to_string())?;
                *target
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
                Ok(())
            });
        }
        Ok(Some(shared))
    }

    fn keys(&self) -> anyhow::Result<Option<Arc<Keyring>>> {
        let inline = std::env::var(KEYS_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let keys = match (&self.encryption_keys_file, inline) {
            (Some(path), _) => Keyring::load(path)?,
            (None, Some(text)) => Keyring::parse(&text)?,
            (None, None) => {
                tracing::warn!("no encryption keys configured: carrier accounts are refused");
                return Ok(None);
            }
        };
        tracing::info!(
            current_key = keys.current_key_id(),
            "encryption keys loaded"
        );
        Ok(Some(Arc::new(keys)))
    }

    fn tls(&self) -> anyhow::Result<Option<Arc<ReloadingTls>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let tls = ReloadingTls::load(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: self.tls_client_ca.clone(),
        })?;
        tls.spawn_watcher(self.reload_every());
        Ok(Some(tls))
    }

    /// The webhook listener's TLS: the same certificate, reloaded the same way, but no client
    /// certificate required: carriers (Intelipost) authenticate with Basic auth, not with our
    /// CA's certificates.
    fn webhook_tls(&self) -> anyhow::Result<Option<Arc<ReloadingTls>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let tls = ReloadingTls::load_for(
            TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: None,
            },
            tls::ALPN_HTTP1,
        )?;
        tls.spawn_watcher(self.reload_every());
        Ok(Some(tls))
    }

    fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_in_flight_per_caller: self.max_in_flight_per_caller,
        }
    }
}

/// What keeps the database alive while serving: a private cluster's guard, or nothing.
#[cfg(feature = "embedded-postgres")]
type DatabaseTarget = PgTarget;
#[cfg(not(feature = "embedded-postgres"))]
type DatabaseTarget = db::ExternalDatabase;

/// Finds PostgreSQL (the embedded default when no URL is given) and returns the URL to use,
/// with the guard that keeps a private cluster alive.
#[cfg(feature = "embedded-postgres")]
fn resolve_database(explicit: Option<&str>) -> anyhow::Result<(DatabaseTarget, String)> {
    pg_bootstrap::resolve_database(explicit).context("finding PostgreSQL")
}

/// A production build names its database: there is no private cluster to start or to keep alive.
#[cfg(not(feature = "embedded-postgres"))]
fn resolve_database(explicit: Option<&str>) -> anyhow::Result<(DatabaseTarget, String)> {
    Ok(db::require_database_url(explicit)?)
}

/// How to call this server with grpcurl, given how it is exposed.
fn grpcurl_hint(addr: SocketAddr, options: &ServeOptions) -> String {
    let transport = if options.tls.is_some() {
        "-cacert ca.pem"
    } else {
        "-plaintext"
    };
    let auth = if options.tokens.is_some() {
        " -H 'authorization: Bearer <token>'"
    } else {
        ""
    };
    format!(
        "fulfillment-server is listening on {addr}. Try:\n  grpcurl {transport} {addr} list\n  \
         grpcurl {transport}{auth} -d '{{\"merchant_id\":\"m-shenzhen\"}}' {addr} \
         fulfillment.v1.FulfillmentService/ListOrdersToFulfill"
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested: draining in-flight calls");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = fulfillment_core::logging::init("fulfillment-server");
    let cli = Cli::parse();
    let args = &cli.serve;
    // Security settings are checked before anything starts, so a bad deployment fails fast.
    let keys = match cli.command {
        Some(Command::Migrate) => None,
        _ => args.security.keys().context("encryption keys")?,
    };
    let options = match cli.command {
        None => Some(serve_options(args)?),
        Some(_) => None,
    };
    // Dropping the target (at the end of `main`) stops a private PostgreSQL this process started.
    let (_target, url) = migrated_database().await?;
    if matches!(cli.command, Some(Command::RotateSecrets)) {
        let keys =
            keys.context("rotate-secrets needs the key ring (FULFILLMENT_ENCRYPTION_KEYS)")?;
        return rotate_secrets(url, keys).await;
    }
    let Some(mut options) = options else {
        // `migrate`: done.
        return Ok(());
    };
    options.readiness = Some(fulfillment_server::readiness::ReadinessCheck {
        database_url: url.clone(),
        interval: Duration::from_millis(args.readiness_interval_ms.max(50)),
    });
    let state = app_state(args, &options, &url, keys)?;
    if args.demo {
        load_demo(&state).await?;
    }
    serve(args, state, options).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The serving options from the flags and the environment: tokens, TLS, limits.
fn serve_options(args: &ServeArgs) -> anyhow::Result<ServeOptions> {
    Ok(ServeOptions {
        tokens: args
            .security
            .tokens(&[args.listen, args.webhook_listen])
            .context("auth tokens")?,
        reflection: args.security.reflection,
        tls: args.security.tls().context("TLS")?,
        limits: args.security.limits(),
        readiness: None,
    })
}

/// The database to use (DATABASE_URL, else local, else a private cluster), migrated.
async fn migrated_database() -> anyhow::Result<(DatabaseTarget, String)> {
    let (target, url) = tokio::task::spawn_blocking({
        let explicit = std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|u| !u.is_empty());
        move || resolve_database(explicit.as_deref())
    })
    .await??;
    let migrate_url = url.clone();
    let applied = tokio::task::spawn_blocking(move || db::run_migrations(&migrate_url))
        .await?
        .context("running migrations")?;
    tracing::info!(
        "{}",
        fulfillment_core::logging::migrations_summary(applied.len())
    );
    Ok((target, url))
}

/// `rotate-secrets`: every carrier secret re-sealed under the current key.
async fn rotate_secrets(url: String, keys: Arc<Keyring>) -> anyhow::Result<()> {
    let resealed = tokio::task::spawn_blocking(move || {
        let mut conn = db::connect(&url)?;
        carrier_accounts::rotate_secrets(&mut conn, &keys, 500).map_err(anyhow::Error::from)
    })
    .await??;
    tracing::info!(resealed, "carrier secrets re-sealed under the current key");
    let _ = writeln!(std::io::stdout(), "re-sealed {resealed} carrier secrets");
    Ok(())
}

/// The shared state of every service: the pool, the clock, the metrics and the settings.
fn app_state(
    args: &ServeArgs,
    options: &ServeOptions,
    url: &str,
    keys: Option<Arc<Keyring>>,
) -> anyhow::Result<AppState> {
    // A statement may not outlive the longest call by much.
    let statement_timeout = options.limits.request_timeout + Duration::from_secs(5);
    let metrics = Arc::new(fulfillment_server::metrics::Metrics::new());
    let pool = db::build_pool_observed(
        url,
        args.pool_size,
        Some(statement_timeout),
        Some(Box::new(metrics.pool_events())),
    )
    .context("connecting to PostgreSQL")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut state = app::app_state(pool, clock);
    state.metrics = metrics;
    state.keys = keys;
    state.bulk.processors = args.bulk_processors;
    state.bulk.parallelism = args.bulk_parallelism.clamp(1, 64);
    state.bulk.limits = UploadLimits {
        max_bytes: options.limits.max_message_bytes,
        max_rows: args.bulk_max_rows.max(1),
    };
    state.bulk.lease = Duration::from_secs(args.bulk_lease_secs.max(1));
    state.dispatch = args.dispatch.config(options.limits.max_message_bytes);
    state.idempotency.keep = Duration::from_secs(args.idempotency_retention_hours.max(1) * 3600);
    Ok(state)
}

/// `--demo`: the demo merchants and orders, loaded once (a restart adds nothing).
async fn load_demo(state: &AppState) -> anyhow::Result<()> {
    let summary = state
        .db
        .transaction({
            let state = state.clone();
            move |conn| {
                let now = state.clock.now();
                let policy = state.policies.at(conn, now)?;
                load_demo_data(conn, now, &policy)
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("loading demo data: {e}"))?;
    tracing::info!(
        merchants = summary.merchants,
        new_orders = summary.orders_created,
        "demo data loaded"
    );
    Ok(())
}

/// Binds both listeners, prints where they are (tests and newcomers read these lines), and
/// serves until a signal stops both.
async fn serve(args: &ServeArgs, state: AppState, options: ServeOptions) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let webhook_listener = TcpListener::bind(args.webhook_listen)
        .await
        .with_context(|| format!("binding the webhook listener {}", args.webhook_listen))?;
    let webhook_addr = webhook_listener.local_addr()?;
    tracing::info!(%addr, webhook = %webhook_addr, "fulfillment-server listening");
    // A closed stdout (a supervisor that stopped reading) must not take the server down.
    let _ = writeln!(std::io::stdout(), "{}", grpcurl_hint(addr, &options));
    let _ = writeln!(
        std::io::stdout(),
        "Intelipost webhook: POST {}://{webhook_addr}{}",
        if options.tls.is_some() {
            "https"
        } else {
            "http"
        },
        webhook::INTELIPOST_PATH
    );
    // One signal stops both listeners.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let webhook_options = webhook::WebhookOptions {
        max_body_bytes: args.webhook_max_body_bytes,
        tls: args.security.webhook_tls().context("webhook TLS")?,
    };
    let (grpc, hooks) = tokio::join!(
        app::serve(listener, state.clone(), options, stopped(stop_rx.clone())),
        webhook::serve(webhook_listener, state, webhook_options, stopped(stop_rx)),
    );
    grpc?;
    hooks.context("webhook listener")
}
