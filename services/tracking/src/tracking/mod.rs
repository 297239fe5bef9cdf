//! Carriers' facts (R21, R22): events are stored first, once per event key, then applied to
//! their trackings by the pure `apply_events` of `fulfillment-policy`. Polled, pushed, webhook
//! and cancellation events all take this one path. Also the reads: a tracking with its
//! checkpoints, and a merchant's stuck trackings (R13).

mod cancel;
mod event;
mod ingest;
mod poll;
mod read;
mod stuck;

pub use cancel::cancel;
pub use event::{IncomingEvent, MAX_RAW_PAYLOAD};
pub use ingest::{IngestOutcome, ingest};
pub use poll::{record_poll, record_poll_failure};
pub use read::{Lookup, TrackingDetail, detail, get_tracking};
pub use stuck::{StuckReason, StuckTracking, is_unresolved_intelipost, list_stuck};

/// Who cancelled a tracking (R15, R18): the policy's one definition.
pub use fulfillment_policy::cancellation::CancelledBy;

/// Most events one IngestTrackingEvents call may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;

/// How an event came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Poll,
    Push,
    Webhook,
    Cancel,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "POLL",
            Self::Push => "PUSH",
            Self::Webhook => "WEBHOOK",
            Self::Cancel => "CANCEL",
        }
    }
}
