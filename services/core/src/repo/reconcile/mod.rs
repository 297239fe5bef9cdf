//! The reconciliation workers' reads and writes (R5, R9, R15–R18), typed and set-based: a batch
//! is claimed with one statement and written with one statement per table (`unnest` over
//! arrays), each a fixed text Diesel keeps prepared. Nothing here decides: the workers pass what
//! `fulfillment-policy` decided, and these functions write it as it is.
//!
//! One module per worker step; what several steps write is in `shared`.

mod aplus_reset;
mod cancellation;
mod deadline;
mod notifier;
mod re_release;
mod shared;

pub use aplus_reset::{AplusReset, mark_aplus_settled, write_aplus_resets};
pub use cancellation::{
    CancellationQueue, CancelledLink, Detection, claim_cancelled, mark_trackings_detected,
    write_detections,
};
pub use deadline::{DueOrder, claim_past_deadline, record_late_refunds};
pub use notifier::{MerchantDue, claim_merchants_to_notify, record_notifications};
pub use re_release::{LinkDecision, ReRelease, write_link_decisions, write_re_releases};
pub use shared::{enqueue_events, record_events, write_refunds};
