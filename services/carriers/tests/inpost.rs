#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::inpost::InPostClient;
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::{MockServer, ResponseTemplate};

const NUMBER: &str = "520113017830399002575123";
const PATH: &str = "/v1/tracking/520113017830399002575123";

/// Tracks NUMBER against a server answering `template` to requests with the bearer token.
async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let bearer = format!("Bearer {KEY}");
    let make = |config| InPostClient::new(config).unwrap();
    track_get(
        PATH,
        ("authorization", &bearer),
        template,
        make,
        ("inpost", NUMBER),
    )
    .await
}

#[tokio::test]
async fn normal_answer_maps_every_detail() {
    let report = answered(track(json(200, fixture("inpost/tracking.json")))).await;
    check_report(&report, NUMBER, TRACKING_JSON);
    assert_eq!(raw_json(&report.events[0])["origin_status"], "DOR");
}

#[tokio::test]
async fn public_tracking_works_without_a_token() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        PATH,
        json(200, fixture("inpost/tracking.json")),
        1,
    )
    .await;
    let mut config = config(&server);
    config.api_key = None;
    let client = InPostClient::new(config).unwrap();
    let report = answered(client.track(NUMBER)).await;
    assert_eq!(report.events.len(), 6);
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let err = failed(track(json(404, fixture("inpost/not_found.json")))).await;
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = failed(track(json(500, fixture("inpost/server_error.json")))).await;
    assert_carrier_status(&err, 500);
    assert!(err.to_string().contains("internal_server_error"), "{err}");
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = failed(track(slow(json(200, fixture("inpost/tracking.json"))))).await;
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = failed(track(json(200, fixture("inpost/malformed.json")))).await;
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let err = failed(track(rate_limited())).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn rejected_token_is_unauthorized_and_never_shown() {
    let err = failed(track(json(401, fixture("inpost/unauthorized.json")))).await;
    assert_eq!(err, TrackError::Unauthorized);
    let echo = format!(r#"{{"status":503,"error":"unavailable","message":"token {KEY}"}}"#);
    let err = failed(track(json(503, echo))).await;
    assert_carrier_status(&err, 503);
    assert_no_secret(&err, &[KEY]);
}

#[tokio::test]
async fn oversized_body_is_malformed() {
    let huge = format!(
        r#"{{"tracking_number":"x","tracking_details":[],"pad":"{}"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let err = failed(track(json(200, huge))).await;
    assert!(
        matches!(err, TrackError::Malformed(ref m) if m.contains("larger")),
        "{err:?}"
    );
}

// --- the events each fixture holds, as the tests above expect them ---

/// The details of `inpost/tracking.json`, in the answer's order.
const TRACKING_JSON: &[Expected<'static>] = &[
    Expected {
        id: None,
        at: "2016-08-25T10:41:09Z",
        status: TrackingStatus::Delivered,
        code: "delivered",
        text: "DOR",
        location: "",
    },
    Expected {
        id: None,
        at: "2016-08-24T13:02:11Z",
        status: TrackingStatus::AvailableForPickup,
        code: "ready_to_pickup",
        text: "PWO",
        location: "KRA010",
    },
    Expected {
        id: None,
        at: "2016-08-24T03:12:40Z",
        status: TrackingStatus::InTransit,
        code: "adopted_at_sorting_center",
        text: "PSC",
        location: "",
    },
    // Out of order: later than the detail before it.
    Expected {
        id: None,
        at: "2016-08-24T07:30:00Z",
        status: TrackingStatus::OutForDelivery,
        code: "out_for_delivery",
        text: "WDO",
        location: "",
    },
    // In the sending locker, waiting for the courier: InPost has the parcel.
    Expected {
        id: None,
        at: "2016-08-23T14:20:00Z",
        status: TrackingStatus::InTransit,
        code: "dispatched_by_sender",
        text: "NWP",
        location: "",
    },
    Expected {
        id: None,
        at: "2016-08-23T08:00:00Z",
        status: TrackingStatus::InfoReceived,
        code: "confirmed",
        text: "PPN",
        location: "",
    },
];
