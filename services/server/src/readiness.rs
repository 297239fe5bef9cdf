//! Readiness follows the database: each service's health status (the one the chart's readiness
//! probe asks for) is `NOT_SERVING` while PostgreSQL cannot be reached, so Kubernetes stops
//! sending calls that could only fail; the server's overall status (`""`, the liveness probe)
//! stays `SERVING`, since restarting the pod would not bring the database back.
//!
//! The check uses a connection of its own, not the pool: a pool busy with calls is a healthy
//! pool, and must not make the pod look unready. It runs on an OS thread (a connect can block
//! for as long as the network lets it); the async side judges by the time of the last answer,
//! so a check stuck on a dead network counts as a failure too.

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
    let spawned = std::thread::Builder::new()
        .name("readiness".into())
        .spawn(move || ask_database(&check, &answered_tx));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the readiness check; readiness stays SERVING");
        return;
    }
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

/// The blocking side: one connection, `SELECT 1` every interval, the time of each answer sent.
/// Ends when nobody listens any more (the server stopped).
fn ask_database(check: &ReadinessCheck, answered: &watch::Sender<Instant>) {
    let mut conn: Option<PgConnection> = None;
    while !answered.is_closed() {
        let started = Instant::now();
        if conn.is_none() {
            conn = PgConnection::establish(&check.database_url).ok();
        }
        if let Some(c) = conn.as_mut() {
            let one = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                .get_result::<i32>(c);
            match one {
                Ok(_) => {
                    let _ = answered.send(Instant::now());
                }
                // Broken, or the server restarted: connect afresh next time.
                Err(_) => conn = None,
            }
        }
        std::thread::sleep(check.interval.saturating_sub(started.elapsed()));
    }
}
