//! `fulfillment-server`: serve the gRPC API, or `migrate` the database and exit.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fulfillment_core::pg_bootstrap::{PgSource, PgTarget, create_database_if_missing};
use fulfillment_core::{Clock, SystemClock, db};
use fulfillment_orders::demo::load_demo_data;
use fulfillment_server::app;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "fulfillment-server",
    version,
    about = "Order fulfilment gRPC service"
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
}

#[derive(clap::Args)]
struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "FULFILLMENT_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Listen address for carrier webhooks (served from the tracking milestone on).
    #[arg(
        long,
        env = "FULFILLMENT_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    webhook_listen: SocketAddr,
    /// PostgreSQL URL. Unset: a PostgreSQL on 127.0.0.1:5432 if one answers, else a private
    /// cluster started from the installed PostgreSQL binaries.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Load sample merchants and orders.
    #[arg(long)]
    demo: bool,
    /// Database connections in the pool.
    #[arg(long, env = "FULFILLMENT_POOL_SIZE", default_value_t = 16)]
    pool_size: u32,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Finds PostgreSQL (the embedded default when no URL is given) and returns the URL to use,
/// with the guard that keeps a private cluster alive.
fn resolve_database(explicit: Option<&str>) -> anyhow::Result<(PgTarget, String)> {
    let target = PgTarget::resolve(explicit).context("finding PostgreSQL")?;
    let url = target.default_url();
    if !matches!(target.source(), PgSource::Explicit) {
        create_database_if_missing(&target.database_url("postgres"), "fulfillment")
            .context("creating the fulfillment database")?;
    }
    Ok((target, url))
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
    init_tracing();
    let cli = Cli::parse();
    let args = cli.serve;
    let (target, url) = tokio::task::spawn_blocking({
        let explicit = args.database_url.clone();
        move || resolve_database(explicit.as_deref())
    })
    .await??;

    let migrate_url = url.clone();
    let applied = tokio::task::spawn_blocking(move || db::run_migrations(&migrate_url))
        .await?
        .context("running migrations")?;
    tracing::info!(applied = applied.len(), "migrations up to date");
    if matches!(cli.command, Some(Command::Migrate)) {
        drop(target);
        return Ok(());
    }

    let pool = db::build_pool(&url, args.pool_size).context("connecting to PostgreSQL")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = app::app_state(pool, clock);
    if args.demo {
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
    }

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, webhook = %args.webhook_listen, "fulfillment-server listening");
    // A closed stdout (a supervisor that stopped reading) must not take the server down.
    let _ = writeln!(
        std::io::stdout(),
        "fulfillment-server is listening on {addr}. Try:\n  grpcurl -plaintext {addr} list\n  \
         grpcurl -plaintext -d '{{\"merchant_id\":\"m-shenzhen\"}}' {addr} fulfillment.v1.FulfillmentService/ListOrdersToFulfill"
    );
    app::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    // Dropping the target stops a private PostgreSQL this process started.
    drop(target);
    Ok(())
}
