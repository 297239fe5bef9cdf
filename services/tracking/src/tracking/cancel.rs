//! A cancellation (R15, R18) is one more event on the ingest path, with who made it.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::input::Actor;
use fulfillment_core::{ServiceError, ServiceResult, repo};
use fulfillment_policy::tracking_status::{CarrierEvent, TrackingStatus};

use super::{CancelledBy, IncomingEvent, Source, TrackingDetail, detail, ingest};

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
    let event = IncomingEvent::new(
        tracking.carrier.clone(),
        tracking.tracking_number.clone(),
        CarrierEvent {
            event_id: Some("cancel".to_owned()),
            occurred_at: at,
            status: TrackingStatus::Cancelled,
            carrier_status_code: "CANCELLED".to_owned(),
            carrier_status_text: format!("cancelled by the {}", by.as_str().to_lowercase()),
            location: String::new(),
            raw_payload: String::new(),
        },
    );
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
