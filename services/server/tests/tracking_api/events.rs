//! Ingestion (R21, R22): events stored once and applied in event-time order; bad events refused
//! with the field named.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;
use crate::{count, event, get_by_key, shipped};

#[tokio::test]
async fn r22_events_are_stored_once_and_applied_in_event_time_order() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    shipped(&mut s, "m-1", "o-1", "usps", "9400111899223344556677").await;
    let n = "9400111899223344556677";
    let t = |h: i64| today() + Duration::hours(h);

    // Pending until the carrier scans: not eligible for payment (R6).
    let before = s.get("m-1", "o-1").await;
    assert!(!before.payment_eligible);

    // Out of order: the delivery arrives before the scans it follows.
    let delivered = ingest(
        &mut s,
        vec![
            event(n, "e-3", t(30), "Delivered"),
            event(n, "e-1", t(2), "InfoReceived"),
        ],
    )
    .await;
    assert_eq!((delivered.accepted, delivered.duplicates), (2, 0));
    let late = ingest(
        &mut s,
        vec![
            event(n, "e-2", t(5), "InTransit"),
            event(n, "", t(20), "OutForDelivery"),
            event("UNKNOWN12345", "x-1", t(5), "InTransit"),
        ],
    )
    .await;
    assert_eq!(
        (late.accepted, late.duplicates, late.unknown_trackings),
        (2, 0, 1)
    );

    let tracking = get_by_key(&mut s, "m-1", "usps", n).await;
    // A late, older event never moves the status backwards.
    assert_eq!(tracking.status, pb::TrackingStatus::Delivered as i32);
    // R21: confirmed = first real scan (InfoReceived is not one), delivered = first delivery.
    assert_eq!(tracking.confirmed_fulfillment_at, Some(ts(t(5))));
    assert_eq!(tracking.delivered_at, Some(ts(t(30))));
    let times: Vec<_> = tracking
        .checkpoints
        .iter()
        .map(|c| c.occurred_at.unwrap().seconds)
        .collect();
    assert_eq!(
        times,
        [t(2), t(5), t(20), t(30)].map(|at| at.timestamp()),
        "checkpoints in event-time order"
    );
    assert_eq!(tracking.checkpoints[1].carrier_status_code, "InTransit");
    assert_eq!(tracking.checkpoints[1].location, "Memphis, TN");
    assert_eq!(tracking.order_ids, ["o-1"]);

    // The order sees it: confirmed, eligible for payment (R6).
    let order = s.get("m-1", "o-1").await;
    assert!(order.payment_eligible);
    assert_eq!(
        order.tracking.unwrap().confirmed_fulfillment_at,
        Some(ts(t(5)))
    );

    redelivery_changes_nothing(&mut s, n, &tracking).await;
    s.stop().await;
}

/// Ingests `events` (TrackingService/IngestTrackingEvents).
async fn ingest(
    s: &mut TestServer,
    events: Vec<pb::TrackingEvent>,
) -> pb::IngestTrackingEventsResponse {
    s.tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest { events })
        .await
        .unwrap()
        .into_inner()
}

/// Redelivery of `n`'s events changes nothing: no rows, the same tracking, never polled again,
/// and the events are append-only.
async fn redelivery_changes_nothing(s: &mut TestServer, n: &str, tracking: &pb::Tracking) {
    // Redelivery of everything (hashed ids included) changes nothing.
    let t = |h: i64| today() + Duration::hours(h);
    let mut conn = s.conn();
    let rows = count(&mut conn, "tracking_events");
    let again = ingest(
        s,
        vec![
            event(n, "e-1", t(2), "InfoReceived"),
            event(n, "e-2", t(5), "InTransit"),
            event(n, "", t(20), "OutForDelivery"),
            event(n, "e-3", t(30), "Delivered"),
            event(n, "e-3", t(30), "Delivered"),
        ],
    )
    .await;
    assert_eq!((again.accepted, again.duplicates), (0, 5));
    assert_eq!(count(&mut conn, "tracking_events"), rows);
    assert_eq!(get_by_key(s, "m-1", "usps", n).await, *tracking);
    // Final: never polled again.
    let next_poll: Option<chrono::DateTime<Utc>> = diesel::dsl::sql::<
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
    >("SELECT next_poll_at FROM trackings")
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(next_poll, None);
    // Events are append-only.
    assert!(
        diesel::sql_query("UPDATE tracking_events SET status = 'PENDING'")
            .execute(&mut conn)
            .is_err()
    );
}

#[tokio::test]
async fn bad_events_are_refused_with_the_field_named_and_nothing_stored() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    shipped(&mut s, "m-1", "o-1", "usps", "9400111899223344556677").await;
    let good = event("9400111899223344556677", "e-1", today(), "InTransit");
    let cases = [
        (vec![], "events"),
        (
            vec![pb::TrackingEvent {
                carrier: "pony-express".into(),
                ..good.clone()
            }],
            "events[0].carrier",
        ),
        (
            vec![
                good.clone(),
                pb::TrackingEvent {
                    occurred_at: None,
                    ..good.clone()
                },
            ],
            "events[1].occurred_at",
        ),
        (
            vec![pb::TrackingEvent {
                carrier_status_code: String::new(),
                ..good.clone()
            }],
            "events[0].carrier_status_code",
        ),
        (
            vec![pb::TrackingEvent {
                raw_payload: "x".repeat(70_000),
                ..good.clone()
            }],
            "events[0].raw_payload",
        ),
        (vec![good.clone(); 1001], "events"),
    ];
    for (events, field) in cases {
        let err = s
            .tracking
            .ingest_tracking_events(pb::IngestTrackingEventsRequest { events })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            error_reason(&err).1.contains(&field.to_owned()),
            "{field}: {:?}",
            error_reason(&err)
        );
    }
    assert_eq!(count(&mut s.conn(), "tracking_events"), 0);
    s.stop().await;
}
