#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::aftership::{API_KEY_HEADER, AfterShipClient};
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::{MockServer, ResponseTemplate};

const NUMBER: &str = "9400111899223100001234";
const PATH: &str = "/v4/trackings/usps/9400111899223100001234";

/// Tracks NUMBER against a server answering `template` to requests that carry the key.
async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let make = |config| AfterShipClient::new("usps", config).unwrap();
    track_get(
        PATH,
        (API_KEY_HEADER, KEY),
        template,
        make,
        ("usps", NUMBER),
    )
    .await
}

#[tokio::test]
async fn normal_answer_maps_every_checkpoint() {
    let report = answered(track(json(200, fixture("aftership/tracking.json")))).await;
    check_report(&report, NUMBER, TRACKING_JSON);
    assert_eq!(raw_json(&report.events[1])["raw_tag"], "OF");
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let err = failed(track(json(404, fixture("aftership/not_found.json")))).await;
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = failed(track(json(500, fixture("aftership/server_error.json")))).await;
    assert_carrier_status(&err, 500);
    assert_no_secret(&err, &[KEY]);
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = failed(track(slow(json(200, fixture("aftership/tracking.json"))))).await;
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = failed(track(json(200, fixture("aftership/malformed.json")))).await;
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
    let err = failed(track(json(200, "<html>oops</html>".into()))).await;
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let template =
        rate_limited().set_body_raw(fixture("aftership/rate_limited.json"), "application/json");
    let err = failed(track(template)).await;
    assert_eq!(
        err,
        TrackError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn rejected_key_is_unauthorized_and_never_shown() {
    let body = format!(
        r#"{{"meta":{{"code":401,"message":"Invalid API key: {KEY}","type":"Unauthorized"}},"data":{{}}}}"#
    );
    let err = failed(track(json(401, body))).await;
    assert_eq!(err, TrackError::Unauthorized);
    // A carrier that echoes the key in an error page: the message is redacted.
    let page = format!("<html>Bad gateway for key {KEY}</html>");
    let err = failed(track(ResponseTemplate::new(502).set_body_string(page))).await;
    assert_carrier_status(&err, 502);
    assert_no_secret(&err, &[KEY]);
}

#[tokio::test]
async fn tracking_number_is_path_encoded() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/v4/trackings/china-post/RR%2F1%201",
        json(404, fixture("aftership/not_found.json")),
        1,
    )
    .await;
    let client = AfterShipClient::new("china-post", config(&server)).unwrap();
    assert_eq!(failed(client.track("RR/1 1")).await, TrackError::NotFound);
}

#[tokio::test]
async fn recorded_shape_with_offsets_and_subtags() {
    let server = serve_get(
        "/v4/trackings/postnl-3s/3SKABC1234567",
        (API_KEY_HEADER, KEY),
        json(200, fixture("aftership/tracking_postnl_in_transit.json")),
    )
    .await;
    let client = AfterShipClient::new("postnl-3s", config(&server)).unwrap();
    let report = answered(client.track("3SKABC1234567")).await;
    check_report(&report, "3SKABC1234567", POSTNL_IN_TRANSIT_JSON);
}

#[tokio::test]
async fn pending_tracking_has_no_events() {
    let report = answered(track(json(200, fixture("aftership/pending.json")))).await;
    assert_eq!(report.tracking_number, "HH20240408");
    assert!(report.events.is_empty());
}

#[tokio::test]
async fn recorded_502_plain_text_is_a_carrier_error() {
    let template =
        ResponseTemplate::new(502).set_body_raw(fixture("aftership/bad_gateway.txt"), "text/plain");
    let err = failed(track(template)).await;
    assert_eq!(
        err,
        TrackError::Carrier {
            status: 502,
            message: "Interal Error".into()
        }
    );
    assert!(err.is_transient());
}

// --- the events each fixture holds, as the tests above expect them ---

/// The checkpoints of `aftership/tracking.json`, in the answer's order.
const TRACKING_JSON: &[Expected<'static>] = &[
    Expected {
        id: None,
        at: "2024-03-01T14:15:00Z",
        status: TrackingStatus::InfoReceived,
        code: "InfoReceived_001",
        text: "Shipping Label Created, USPS Awaiting Item",
        location: "",
    },
    // Out of order in the answer: kept as sent, the caller sorts.
    Expected {
        id: None,
        at: "2024-03-05T13:10:00Z",
        status: TrackingStatus::OutForDelivery,
        code: "OutForDelivery_001",
        text: "Out for Delivery",
        location: "CHICAGO, IL 60601",
    },
    // No offset: read as UTC.
    Expected {
        id: None,
        at: "2024-03-02T03:45:00Z",
        status: TrackingStatus::InTransit,
        code: "InTransit_001",
        text: "Arrived at USPS Regional Facility",
        location: "CAROL STREAM, IL, USA",
    },
    Expected {
        id: None,
        at: "2024-03-05T15:28:00Z",
        status: TrackingStatus::Delivered,
        code: "Delivered_001",
        text: "Delivered, Front Door/Porch",
        location: "CHICAGO, IL 60601",
    },
];

/// The checkpoints of `aftership/tracking_postnl_in_transit.json`.
const POSTNL_IN_TRANSIT_JSON: &[Expected<'static>] = &[
    Expected {
        id: None,
        at: "2024-04-04T09:02:33Z",
        status: TrackingStatus::InfoReceived,
        code: "InfoReceived_001",
        text: "Shipment expected, but not yet arrived at PostNL",
        location: "",
    },
    Expected {
        id: None,
        at: "2024-04-05T15:20:00Z",
        status: TrackingStatus::InTransit,
        code: "InTransit_001",
        text: "Shipment received by PostNL",
        location: "NL, Netherlands",
    },
    Expected {
        id: None,
        at: "2024-04-05T17:45:10Z",
        status: TrackingStatus::InTransit,
        code: "InTransit_001",
        text: "Shipment has been sorted",
        location: "NL, Netherlands",
    },
    // `location` null: built from the country.
    Expected {
        id: None,
        at: "2024-04-07T07:15:00Z",
        status: TrackingStatus::InTransit,
        code: "InTransit_004",
        text: "Shipment received in country of destination",
        location: "POL",
    },
];
