//! Carriers' facts (R21, R22): events are stored first, once per event key, then applied to
//! their trackings by the pure `apply_events` of `fulfillment-policy`. Polled, pushed, webhook
//! and cancellation events all take this one path. Also the reads: a tracking with its
//! checkpoints, and a merchant's stuck trackings (R13).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::prelude::*;
use fulfillment_core::models::{NewTrackingEvent, Tracking, TrackingEvent};
use fulfillment_core::repo::trackings::FactsUpdate;
use fulfillment_core::schema::{intelipost_integrations, order_trackings, orders, trackings};
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::stuck::{Stuck, stuck_reason};
use fulfillment_policy::tracking_status::{
    EventFact, PollCadence, PollResult, TrackingFacts, TrackingStatus, apply_events, next_poll_at,
};
use sha2::{Digest, Sha256};

use fulfillment_core::input::{Actor, check_id, require_merchant};
use fulfillment_core::paging::{self, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, keyset_after};

/// Most events one call may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;
/// Largest raw payload kept per event.
pub const MAX_RAW_PAYLOAD: usize = 64 * 1024;
const MAX_EVENT_ID: usize = 128;
const MAX_CARRIER_TEXT: usize = 1000;

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

/// Who cancelled a tracking (R15, R18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    Merchant,
    Carrier,
}

impl CancelledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "MERCHANT",
            Self::Carrier => "CARRIER",
        }
    }
}

/// One event to store, its status already normalised by the carrier's mapping.
#[derive(Debug, Clone)]
pub struct IncomingEvent {
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's event id; `None` or empty: a hash of carrier, number, time and status.
    pub event_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub status: TrackingStatus,
    pub carrier_status_code: String,
    pub carrier_status_text: String,
    pub location: String,
    pub raw_payload: String,
}

impl IncomingEvent {
    /// R22: the carrier's event id, or a hash of what identifies the event.
    pub fn event_key(&self) -> String {
        match self.event_id.as_deref() {
            Some(id) if !id.is_empty() => format!("id:{id}"),
            _ => {
                let mut hash = Sha256::new();
                for part in [
                    self.carrier.as_str(),
                    self.tracking_number.as_str(),
                    &self.occurred_at.timestamp_micros().to_string(),
                    self.carrier_status_code.as_str(),
                    self.status.as_str(),
                ] {
                    hash.update(part.as_bytes());
                    hash.update([0]);
                }
                format!("sha256:{}", hex_prefix(&hash.finalize()))
            }
        }
    }

    fn texts(&self) -> [&str; 6] {
        [
            self.tracking_number.as_str(),
            self.event_id.as_deref().unwrap_or(""),
            self.carrier_status_code.as_str(),
            self.carrier_status_text.as_str(),
            self.location.as_str(),
            self.raw_payload.as_str(),
        ]
    }

    pub fn has_nul(&self) -> bool {
        self.texts().iter().any(|t| t.contains('\0'))
    }

    /// The event with every NUL replaced by U+FFFD (the replacement character).
    pub fn without_nul(&self) -> Self {
        let clean = |s: &str| s.replace('\0', "\u{fffd}");
        Self {
            tracking_number: clean(&self.tracking_number),
            event_id: self.event_id.as_deref().map(clean),
            carrier_status_code: clean(&self.carrier_status_code),
            carrier_status_text: clean(&self.carrier_status_text),
            location: clean(&self.location),
            raw_payload: clean(&self.raw_payload),
            ..self.clone()
        }
    }

    /// Checks the free-text fields of event `index` (the gRPC edge checks the rest).
    pub fn check(&self, v: &mut Violations, index: usize) {
        let field = |name: &str| format!("events[{index}].{name}");
        if self
            .event_id
            .as_deref()
            .is_some_and(|id| id.len() > MAX_EVENT_ID)
        {
            v.add(
                field("event_id"),
                format!("must be at most {MAX_EVENT_ID} bytes"),
            );
        }
        for (name, value) in [
            ("carrier_status_code", &self.carrier_status_code),
            ("carrier_status_text", &self.carrier_status_text),
            ("location", &self.location),
        ] {
            if value.len() > MAX_CARRIER_TEXT {
                v.add(
                    field(name),
                    format!("must be at most {MAX_CARRIER_TEXT} bytes"),
                );
            }
        }
        if self.raw_payload.len() > MAX_RAW_PAYLOAD {
            v.add(
                field("raw_payload"),
                format!("must be at most {MAX_RAW_PAYLOAD} bytes"),
            );
        }
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

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

fn facts_of(tracking: &Tracking) -> TrackingFacts {
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
    let locked = repo::trackings::lock_by_keys(conn, &carriers, &numbers)?;
    let by_key: HashMap<(&str, &str), &Tracking> = locked
        .iter()
        .filter(|t| owner.is_none_or(|m| t.merchant_id == m))
        .map(|t| ((t.carrier.as_str(), t.tracking_number.as_str()), t))
        .collect();

    let mut outcome = IngestOutcome::default();
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
            occurred_at: event.occurred_at,
            status: event.status.as_str(),
            carrier_status_code: &event.carrier_status_code,
            carrier_status_text: &event.carrier_status_text,
            location: &event.location,
            raw_payload: &event.raw_payload,
            received_at: now,
        });
    }
    let inserted = repo::tracking_events::insert_new(conn, &rows)?;
    outcome.accepted = inserted.len();
    outcome.duplicates += rows.len() - inserted.len();

    // Group the new events by tracking (BTreeMap: trackings written in id order).
    let mut new_by_tracking: BTreeMap<i64, Vec<&repo::tracking_events::Inserted>> = BTreeMap::new();
    for event in &inserted {
        new_by_tracking
            .entry(event.tracking_id)
            .or_default()
            .push(event);
    }
    let mut updates = Vec::new();
    for tracking in by_key.values() {
        let Some(new) = new_by_tracking.get(&tracking.id) else {
            continue;
        };
        if let Some(update) = apply_to(tracking, new, cancelled_by) {
            outcome.changed.push(tracking.id);
            updates.push(update);
        }
    }
    repo::trackings::update_facts(conn, &updates, now)?;
    outcome.changed.sort_unstable();
    Ok(outcome)
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

/// Records a cancellation and who made it (R15, R18). A second cancellation of the same
/// tracking changes nothing: the first one said who.
pub fn cancel(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    actor: &Actor,
    carrier: &str,
    tracking_number: &str,
    by: CancelledBy,
    at: DateTime<Utc>,
) -> ServiceResult<TrackingDetail> {
    let tracking = repo::trackings::find(conn, carrier, tracking_number)?.ok_or_else(|| {
        ServiceError::not_found("tracking", format!("{carrier} {tracking_number}"))
    })?;
    let event = IncomingEvent {
        carrier: tracking.carrier.clone(),
        tracking_number: tracking.tracking_number.clone(),
        event_id: Some("cancel".to_owned()),
        occurred_at: at,
        status: TrackingStatus::Cancelled,
        carrier_status_code: "CANCELLED".to_owned(),
        carrier_status_text: format!("cancelled by the {}", by.as_str().to_lowercase()),
        location: String::new(),
        raw_payload: String::new(),
    };
    ingest(
        conn,
        now,
        actor,
        Source::Cancel,
        std::slice::from_ref(&event),
        None,
        Some(by),
    )?;
    detail(conn, tracking.id)
}

/// A tracking with its checkpoints and the orders on it.
#[derive(Debug, Clone)]
pub struct TrackingDetail {
    pub tracking: Tracking,
    pub events: Vec<TrackingEvent>,
    pub order_ids: Vec<String>,
}

pub fn detail(conn: &mut PgConnection, tracking_id: i64) -> ServiceResult<TrackingDetail> {
    let tracking = repo::trackings::find_by_id(conn, tracking_id)?
        .ok_or_else(|| ServiceError::not_found("tracking", tracking_id.to_string()))?;
    let events = repo::tracking_events::for_tracking(conn, tracking_id)?;
    let order_ids = repo::trackings::current_orders(conn, tracking_id)?
        .into_iter()
        .map(|o| o.id)
        .collect();
    Ok(TrackingDetail {
        tracking,
        events,
        order_ids,
    })
}

/// How GetTracking finds a tracking.
#[derive(Debug, Clone)]
pub enum Lookup {
    Key {
        carrier: String,
        tracking_number: String,
    },
    Order(String),
}

/// A tracking by key or by order; `merchant_id` (when not empty) must own it, or it is
/// NOT_FOUND like one that does not exist.
pub fn get_tracking(
    conn: &mut PgConnection,
    merchant_id: &str,
    lookup: &Lookup,
) -> ServiceResult<TrackingDetail> {
    if !merchant_id.is_empty() {
        require_merchant(conn, merchant_id)?;
    }
    let (tracking, what) = match lookup {
        Lookup::Key {
            carrier,
            tracking_number,
        } => (
            repo::trackings::find(conn, carrier, tracking_number)?,
            format!("{carrier} {tracking_number}"),
        ),
        Lookup::Order(order_id) => {
            let owned = merchant_id.is_empty()
                || repo::orders::find(conn, merchant_id, order_id)?.is_some();
            let tracking = if owned {
                repo::trackings::current_for_order(conn, order_id)?
            } else {
                None
            };
            (tracking, format!("for order {order_id}"))
        }
    };
    match tracking {
        Some(t) if merchant_id.is_empty() || t.merchant_id == merchant_id => detail(conn, t.id),
        _ => Err(ServiceError::not_found("tracking", what)),
    }
}

// R12, R13: the rules live in `fulfillment-policy`; re-exported so callers keep one name.
pub use fulfillment_policy::stuck::StuckReason;
pub use fulfillment_policy::tracking_number::is_unresolved_intelipost;

#[derive(Debug, Clone)]
pub struct StuckTracking {
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
    pub status: String,
    pub reason: StuckReason,
    pub message: String,
}

/// A page of a merchant's shipped orders whose tracking has no scan yet (so no confirmed
/// fulfilment, R6), oldest shipment first, with the reason (R12, R13).
pub fn list_stuck(
    conn: &mut PgConnection,
    merchant_id: &str,
    page_size: i32,
    page_token: &str,
) -> ServiceResult<(Vec<StuckTracking>, String)> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let size = paging::page_size(&mut v, page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let after = keyset_after(&mut v, page_token);
    v.finish("INVALID_REQUEST")?;
    require_merchant(conn, merchant_id)?;

    let connected = intelipost_integrations::table
        .find(merchant_id)
        .select(intelipost_integrations::connected)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false);
    let mut query = order_trackings::table
        .inner_join(orders::table)
        .inner_join(trackings::table)
        .filter(orders::merchant_id.eq(merchant_id))
        .filter(orders::state.eq("SHIPPED"))
        .filter(order_trackings::is_current.eq(true))
        .filter(trackings::confirmed_fulfillment_at.is_null())
        .filter(trackings::cancelled_at.is_null())
        .select((
            order_trackings::order_id,
            trackings::carrier,
            trackings::tracking_number,
            order_trackings::shipped_at,
            trackings::status,
        ))
        .order((
            order_trackings::shipped_at.asc(),
            order_trackings::order_id.asc(),
        ))
        .limit(size + 1)
        .into_boxed();
    if let Some((shipped_at, order_id)) = after {
        query = query.filter(
            order_trackings::shipped_at
                .gt(shipped_at)
                .or(order_trackings::shipped_at
                    .eq(shipped_at)
                    .and(order_trackings::order_id.gt(order_id))),
        );
    }
    let rows: Vec<(String, String, String, DateTime<Utc>, String)> = query.load(conn)?;
    let (rows, has_more) = paging::take_page(rows, size);
    let next = match (has_more, rows.last()) {
        (true, Some((order_id, _, _, shipped_at, _))) => {
            paging::encode_page_token(*shipped_at, order_id)
        }
        _ => String::new(),
    };
    let stuck = rows
        .into_iter()
        .map(|(order_id, carrier, tracking_number, shipped_at, status)| {
            let Stuck { reason, message } =
                stuck_reason(&carrier, &tracking_number, &status, connected);
            StuckTracking {
                order_id,
                carrier,
                tracking_number,
                shipped_at,
                status,
                reason,
                message,
            }
        })
        .collect();
    Ok((stuck, next))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event(id: Option<&str>) -> IncomingEvent {
        IncomingEvent {
            carrier: "wishpost".into(),
            tracking_number: "WP12345678".into(),
            event_id: id.map(str::to_owned),
            occurred_at: Utc.with_ymd_and_hms(2021, 3, 1, 10, 0, 0).unwrap(),
            status: TrackingStatus::InTransit,
            carrier_status_code: "20".into(),
            carrier_status_text: "In transit".into(),
            location: "Shenzhen".into(),
            raw_payload: "{}".into(),
        }
    }

    #[test]
    fn a_carriers_nul_becomes_the_replacement_character_and_the_rest_is_kept() {
        let clean = event(Some("e-1"));
        assert!(!clean.has_nul());
        let mut dirty = clean.clone();
        dirty.location = "Shen\0zhen".into();
        dirty.raw_payload = "{\"x\":\"a\0\"}".into();
        assert!(dirty.has_nul());
        let fixed = dirty.without_nul();
        assert!(!fixed.has_nul());
        assert_eq!(fixed.location, "Shen\u{fffd}zhen");
        assert_eq!(fixed.raw_payload, "{\"x\":\"a\u{fffd}\"}");
        assert_eq!(fixed.event_key(), clean.event_key());
        assert_eq!(fixed.carrier_status_text, clean.carrier_status_text);
    }

    #[test]
    fn r22_event_key_is_the_carrier_id_or_a_stable_hash() {
        assert_eq!(event(Some("e-1")).event_key(), "id:e-1");
        let hashed = event(None).event_key();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 7 + 32);
        assert_eq!(hashed, event(Some("")).event_key());
        let mut later = event(None);
        later.occurred_at += chrono::Duration::seconds(1);
        assert_ne!(hashed, later.event_key());
        // The text and raw payload are not part of the identity: a re-worded redelivery is the same event.
        let mut reworded = event(None);
        reworded.carrier_status_text = "En tránsito".into();
        reworded.raw_payload = "{\"x\":1}".into();
        assert_eq!(hashed, reworded.event_key());
    }
}
