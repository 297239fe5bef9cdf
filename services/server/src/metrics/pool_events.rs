//! How long calls wait for a pooled connection (issue 20.2): r2d2 reports each checkout and each
//! one that timed out, and a pool that is too small shows here before it shows as errors.

use std::time::Duration;

use diesel::r2d2::HandleEvent;
use diesel::r2d2::event::{CheckoutEvent, TimeoutEvent};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Waits from 100 µs (an idle connection) to the 5 s checkout timeout.
const WAIT_BUCKETS: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

#[derive(Debug, Clone)]
pub struct PoolEvents {
    wait: Histogram,
    timeouts: Counter,
}

impl PoolEvents {
    pub fn register(registry: &mut Registry) -> Self {
        let events = Self {
            wait: Histogram::new(WAIT_BUCKETS),
            timeouts: Counter::default(),
        };
        registry.register(
            "fulfillment_db_pool_wait_seconds",
            "Time a call waited for a pooled connection (checkouts that got one)",
            events.wait.clone(),
        );
        registry.register(
            "fulfillment_db_pool_timeouts",
            "Checkouts that gave up waiting for a connection",
            events.timeouts.clone(),
        );
        events
    }

    fn waited(&self, duration: Duration) {
        self.wait.observe(duration.as_secs_f64());
    }
}

impl HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: CheckoutEvent) {
        self.waited(event.duration());
    }

    fn handle_timeout(&self, _event: TimeoutEvent) {
        self.timeouts.inc();
    }
}
