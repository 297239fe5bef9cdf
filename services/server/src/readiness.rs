//! Readiness follows the database: each service's health status (the one the chart's readiness
//! probe asks for) is `NOT_SERVING` while PostgreSQL cannot be reached, so Kubernetes stops
//! sending calls that could only fail; the server's overall status (`""`, the liveness probe)
//! stays `SERVING`, since restarting the pod would not bring the database back.
//!
//! The check uses a connection of its own, not the pool: a pool busy with calls is a healthy
//! pool, and must not make the pod look unready. Each check runs on the blocking pool (a connect
//! can block for as long as the network lets it); the judge judges by the time of the last
//! answer, so a check stuck on a dead network counts as a failure too.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use tokio::sync::watch;
use tonic_health::server::HealthReporter;

/// The services whose status follows the database.
pub const SERVICES: [&str; 3] = [
    "fulfillment.v1.FulfillmentService",
    "fulfillment.v1.PolicyService",
    "fulfillment.v1.TrackingService",
];

#[derive(Debug, Clone)]
pub struct ReadinessCheck {
    pub database_url: String,
    /// How often PostgreSQL is asked; unready after three intervals without an answer.
    pub interval: Duration,
}

/// Watches the database until `stopped` turns true, setting the services' health on every change.
pub fn spawn(check: ReadinessCheck, reporter: HealthReporter, mut stopped: watch::Receiver<bool>) {
    let (answered_tx, answered) = watch::channel(Instant::now());
    let interval = check.interval;
    tokio::spawn(ask_database(check, answered_tx, stopped.clone()));
    tokio::spawn(async move {
        let mut ready = true;
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            let now_ready = answered.borrow().elapsed() < interval * 3;
            if now_ready == ready {
                continue;
            }
            ready = now_ready;
            for service in SERVICES {
                let status = if ready {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                reporter.set_service_status(service, status).await;
            }
            if ready {
                tracing::info!("PostgreSQL answers again: services SERVING");
            } else {
                tracing::warn!("PostgreSQL does not answer: services NOT_SERVING");
            }
        }
    });
}

/// The asking side: `SELECT 1` every interval over one connection, the time of each answer
/// sent. Ends when the server stops.
async fn ask_database(
    check: ReadinessCheck,
    answered: watch::Sender<Instant>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut conn: Option<PgConnection> = None;
    let mut tick = tokio::time::interval(check.interval);
    // A check that overran its interval is followed by one at once, not by a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let url = check.database_url.clone();
        let asking = tokio::task::spawn_blocking(move || ask_once(&url, conn));
        // A check stuck on a dead network must not hold the server's shutdown.
        let asked = tokio::select! {
            asked = asking => asked,
            _ = stopped.changed() => return,
        };
        conn = match asked {
            Ok((answer, conn)) => {
                if answer {
                    let _ = answered.send(Instant::now());
                }
                conn
            }
            Err(_) => None,
        };
    }
}

/// One blocking check: connects if needed, asks, and gives back whether PostgreSQL answered and
/// the connection to reuse (none when it broke or the server restarted: connect afresh).
fn ask_once(database_url: &str, conn: Option<PgConnection>) -> (bool, Option<PgConnection>) {
    let Some(mut conn) = conn.or_else(|| PgConnection::establish(database_url).ok()) else {
        return (false, None);
    };
    let one = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
        .get_result::<i32>(&mut conn);
    match one {
        Ok(_) => (true, Some(conn)),
        Err(_) => (false, None),
    }
}
