//! Idempotency keys expire: remembered for `retention` (default 24 hours, the documented
//! minimum a caller may rely on), then removed by every server, in small `SKIP LOCKED` batches
//! that never wait on a call (several replicas purging at once share the work).

use std::time::Duration;

use chrono::{DateTime, Utc};
use fulfillment_core::repo::idempotency::{self, DEFAULT_RETENTION_HOURS};
use tokio::sync::watch;

use crate::state::AppState;

/// Rows one purge statement removes; small, so each statement holds its locks briefly.
const BATCH: i64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// A key first used longer ago than this counts as never seen.
    pub keep: Duration,
    /// How often expired keys are removed.
    pub purge_every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep: Duration::from_secs(DEFAULT_RETENTION_HOURS * 3600),
            purge_every: Duration::from_secs(300),
        }
    }
}

impl Retention {
    pub fn expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let keep = chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::MAX);
        now.checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Removes what expired up to `now`; returns how many keys went.
pub async fn purge_once(state: &AppState) -> fulfillment_core::ServiceResult<usize> {
    let expired_before = state.idempotency.expired_before(state.clock.now());
    state
        .db
        .run(move |conn| Ok(idempotency::purge_expired(conn, expired_before, BATCH)?))
        .await
}

/// Purges every `purge_every` until `stopped` turns true.
pub fn spawn(state: &AppState, mut stopped: watch::Receiver<bool>) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.idempotency.purge_every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            match purge_once(&state).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys removed"),
                Err(e) => tracing::warn!(error = %e, "cannot remove expired idempotency keys"),
            }
        }
    });
}
