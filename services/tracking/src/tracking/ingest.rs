//! The one path of every event (R21, R22): store it once per event key, then apply the new
//! ones to their trackings.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::input::Actor;
use fulfillment_core::models::{NewTrackingEvent, Tracking};
use fulfillment_core::repo::trackings::FactsUpdate;
use fulfillment_core::{ServiceResult, repo};
use fulfillment_policy::tracking_status::{EventFact, TrackingFacts, TrackingStatus, apply_events};

use super::{CancelledBy, IncomingEvent, Source};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Stored for the first time.
    pub accepted: usize,
    /// Seen before: changed nothing.
    pub duplicates: usize,
    /// For trackings this service does not know (not stored: no merchant owns them).
    pub unknown_trackings: usize,
    /// Trackings whose facts changed.
    pub changed: Vec<i64>,
}

pub(super) fn facts_of(tracking: &Tracking) -> TrackingFacts {
    TrackingFacts {
        status: tracking.status.parse().unwrap_or(TrackingStatus::Pending),
        last_event_at: tracking.last_event_at,
        confirmed_fulfillment_at: tracking.confirmed_fulfillment_at,
        delivered_at: tracking.delivered_at,
        cancelled_at: tracking.cancelled_at,
    }
}

/// Stores events and applies the new ones to their trackings (R21, R22), in the caller's
/// transaction. `owner`, when given, limits the events to that merchant's trackings (the
/// others count as unknown). Redelivered events change nothing; the result does not depend on
/// the order in which events arrive.
#[allow(clippy::too_many_arguments)]
pub fn ingest(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    source: Source,
    events: &[IncomingEvent],
    owner: Option<&str>,
    cancelled_by: Option<CancelledBy>,
) -> ServiceResult<IngestOutcome> {
    // A carrier's answer may hold a NUL, which PostgreSQL's text refuses; callers' events are
    // refused at the edge, but a carrier's must not make its tracking fail on every poll.
    let cleaned: Vec<IncomingEvent>;
    let events = if events.iter().any(IncomingEvent::has_nul) {
        cleaned = events.iter().map(IncomingEvent::without_nul).collect();
        &cleaned[..]
    } else {
        events
    };
    let locked = lock_trackings(conn, events)?;
    let by_key: HashMap<(&str, &str), &Tracking> = locked
        .iter()
        .filter(|t| owner.is_none_or(|m| t.merchant_id == m))
        .map(|t| ((t.carrier.as_str(), t.tracking_number.as_str()), t))
        .collect();

    let mut outcome = IngestOutcome::default();
    let rows = rows_to_store(&mut outcome, &by_key, events, source, actor, now);
    let inserted = repo::tracking_events::insert_new(conn, &rows)?;
    outcome.accepted = inserted.len();
    outcome.duplicates += rows.len() - inserted.len();

    let updates = fact_updates(&mut outcome, &by_key, &inserted, cancelled_by);
    repo::trackings::update_facts(conn, &updates, now)?;
    outcome.changed.sort_unstable();
    Ok(outcome)
}

/// Locks every tracking the events name, each once, in key order (no deadlock between two
/// batches naming the same trackings).
fn lock_trackings(
    conn: &mut PgConnection,
    events: &[IncomingEvent],
) -> ServiceResult<Vec<Tracking>> {
    let mut keys: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.carrier.as_str(), e.tracking_number.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let (carriers, numbers): (Vec<String>, Vec<String>) = keys
        .iter()
        .map(|(c, n)| ((*c).to_owned(), (*n).to_owned()))
        .unzip();
    Ok(repo::trackings::lock_by_keys(conn, &carriers, &numbers)?)
}

/// The rows to insert: one per event of a known tracking and key; events for unknown
/// trackings and repeats within the batch are counted, not stored.
fn rows_to_store<'a>(
    outcome: &mut IngestOutcome,
    by_key: &HashMap<(&str, &str), &Tracking>,
    events: &'a [IncomingEvent],
    source: Source,
    actor: &'a Actor,
    now: DateTime<Utc>,
) -> Vec<NewTrackingEvent<'a>> {
    let mut rows = Vec::with_capacity(events.len());
    let mut batch_keys = HashSet::with_capacity(events.len());
    for event in events {
        let Some(tracking) = by_key.get(&(event.carrier.as_str(), event.tracking_number.as_str()))
        else {
            outcome.unknown_trackings += 1;
            continue;
        };
        let key = event.event_key();
        if !batch_keys.insert((tracking.id, key.clone())) {
            outcome.duplicates += 1;
            continue;
        }
        rows.push(NewTrackingEvent {
            tracking_id: tracking.id,
            event_key: key,
            source: source.as_str(),
            actor: &actor.0,
            occurred_at: event.event.occurred_at,
            status: event.event.status.as_str(),
            carrier_status_code: &event.event.carrier_status_code,
            carrier_status_text: &event.event.carrier_status_text,
            location: &event.event.location,
            raw_payload: &event.event.raw_payload,
            received_at: now,
        });
    }
    rows
}

/// The new facts of each tracking the inserted events change, recorded in `outcome.changed`.
fn fact_updates(
    outcome: &mut IngestOutcome,
    by_key: &HashMap<(&str, &str), &Tracking>,
    inserted: &[repo::tracking_events::Inserted],
    cancelled_by: Option<CancelledBy>,
) -> Vec<FactsUpdate> {
    // Group the new events by tracking (BTreeMap: trackings written in id order).
    let mut new_by_tracking: BTreeMap<i64, Vec<&repo::tracking_events::Inserted>> = BTreeMap::new();
    for event in inserted {
        new_by_tracking
            .entry(event.tracking_id)
            .or_default()
            .push(event);
    }
    let by_id: HashMap<i64, &Tracking> = by_key.values().map(|t| (t.id, *t)).collect();
    let mut updates = Vec::new();
    for (id, new) in &new_by_tracking {
        let Some(tracking) = by_id.get(id) else {
            continue;
        };
        if let Some(update) = apply_to(tracking, new, cancelled_by) {
            outcome.changed.push(tracking.id);
            updates.push(update);
        }
    }
    updates
}

/// The tracking's new facts, or `None` if nothing changes.
fn apply_to(
    tracking: &Tracking,
    new: &[&repo::tracking_events::Inserted],
    cancelled_by: Option<CancelledBy>,
) -> Option<FactsUpdate> {
    let before = facts_of(tracking);
    let facts: Vec<EventFact> = new
        .iter()
        .filter_map(|e| {
            Some(EventFact {
                occurred_at: e.occurred_at,
                status: e.status.parse().ok()?,
            })
        })
        .collect();
    let after = apply_events(before, &facts);
    // The carrier's own words of the event that now sets the status.
    let latest = new
        .iter()
        .rfind(|e| Some(e.occurred_at) == after.last_event_at);
    let (code, text) = match latest {
        Some(e) if after.last_event_at != before.last_event_at || before.status != after.status => {
            (
                Some(e.carrier_status_code.clone()),
                Some(e.carrier_status_text.clone()),
            )
        }
        _ => (
            tracking.carrier_status_code.clone(),
            tracking.carrier_status_text.clone(),
        ),
    };
    let cancelled_by = match (before.cancelled_at, after.cancelled_at, cancelled_by) {
        // An explicit cancellation names who; a carrier's `Cancelled` status is the carrier.
        (_, Some(_), Some(by)) => Some(by.as_str().to_owned()),
        (None, Some(_), None) => Some(CancelledBy::Carrier.as_str().to_owned()),
        _ => tracking.cancelled_by.clone(),
    };
    // R22: a final status stops polling, however the event came in.
    let next_poll_at = if after.status.is_final() {
        None
    } else {
        tracking.next_poll_at
    };
    let poll_failures = tracking.poll_failures;
    let unchanged = after == before
        && cancelled_by == tracking.cancelled_by
        && next_poll_at == tracking.next_poll_at;
    if unchanged {
        return None;
    }
    Some(FactsUpdate {
        id: tracking.id,
        status: after.status.as_str().to_owned(),
        carrier_status_code: code,
        carrier_status_text: text,
        last_event_at: after.last_event_at,
        confirmed_fulfillment_at: after.confirmed_fulfillment_at,
        delivered_at: after.delivered_at,
        cancelled_at: after.cancelled_at,
        cancelled_by,
        next_poll_at,
        poll_failures,
    })
}
