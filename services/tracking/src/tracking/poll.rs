//! A poll's outcome (R22): its events take the ingest path, then the next poll is scheduled.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::input::Actor;
use fulfillment_core::models::Tracking;
use fulfillment_core::{ServiceResult, repo};
use fulfillment_policy::tracking_status::{PollCadence, PollResult, next_poll_at};

use super::ingest::facts_of;
use super::{IncomingEvent, Source, ingest};

/// An answered poll (R22): stores the carrier's events like any others, then schedules the
/// next poll from the tracking's new facts (sooner while it moves, never after a final status
/// or the maximum age). Returns whether the tracking's facts changed.
pub fn record_poll(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    tracking_id: i64,
    events: &[IncomingEvent],
    cadence: &PollCadence,
) -> ServiceResult<bool> {
    let Some(tracking) = repo::trackings::lock_by_id(conn, tracking_id)? else {
        return Ok(false);
    };
    let mine: Vec<IncomingEvent> = events
        .iter()
        .filter(|e| e.carrier == tracking.carrier && e.tracking_number == tracking.tracking_number)
        .cloned()
        .collect();
    let outcome = ingest(
        conn,
        now,
        actor,
        Source::Poll,
        &mine,
        Some(&tracking.merchant_id),
        None,
    )?;
    let current = repo::trackings::find_by_id(conn, tracking_id)?.unwrap_or(tracking);
    let next = next_poll_at(
        cadence,
        &facts_of(&current),
        current.created_at,
        now,
        PollResult::Answered,
    );
    repo::trackings::set_next_poll(conn, tracking_id, next, 0, now)?;
    Ok(!outcome.changed.is_empty())
}

/// A failed poll: back off (R22), keeping the carrier's Retry-After.
pub fn record_poll_failure(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    tracking: &Tracking,
    cadence: &PollCadence,
    retry_after: Option<chrono::Duration>,
) -> ServiceResult<Option<DateTime<Utc>>> {
    let failures = tracking.poll_failures.saturating_add(1);
    let next = next_poll_at(
        cadence,
        &facts_of(tracking),
        tracking.created_at,
        now,
        PollResult::Failed {
            consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
            retry_after,
        },
    );
    repo::trackings::set_next_poll(conn, tracking.id, next, failures, now)?;
    Ok(next)
}
