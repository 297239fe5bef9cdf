//! Carriers' events (R22): inserted once per (tracking, event key), never changed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::models::{NewTrackingEvent, TrackingEvent};
use crate::schema::tracking_events;

/// An event stored for the first time by [`insert_new`].
#[derive(Debug, Clone, Queryable)]
pub struct Inserted {
    pub tracking_id: i64,
    pub occurred_at: DateTime<Utc>,
    pub status: String,
    pub carrier_status_code: String,
    pub carrier_status_text: String,
}

/// Stores the events not seen before; returns those (a redelivery returns nothing).
pub fn insert_new(
    conn: &mut PgConnection,
    events: &[NewTrackingEvent<'_>],
) -> QueryResult<Vec<Inserted>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    diesel::insert_into(tracking_events::table)
        .values(events)
        .on_conflict((tracking_events::tracking_id, tracking_events::event_key))
        .do_nothing()
        .returning((
            tracking_events::tracking_id,
            tracking_events::occurred_at,
            tracking_events::status,
            tracking_events::carrier_status_code,
            tracking_events::carrier_status_text,
        ))
        .load(conn)
}

/// A tracking's checkpoints in event-time order (arrival order for equal times).
pub fn for_tracking(conn: &mut PgConnection, tracking_id: i64) -> QueryResult<Vec<TrackingEvent>> {
    tracking_events::table
        .filter(tracking_events::tracking_id.eq(tracking_id))
        .order((
            tracking_events::occurred_at.asc(),
            tracking_events::id.asc(),
        ))
        .select(TrackingEvent::as_select())
        .load(conn)
}

pub fn count_for_tracking(conn: &mut PgConnection, tracking_id: i64) -> QueryResult<i64> {
    tracking_events::table
        .filter(tracking_events::tracking_id.eq(tracking_id))
        .count()
        .get_result(conn)
}
