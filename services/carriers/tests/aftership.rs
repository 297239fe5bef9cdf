#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::aftership::{API_KEY_HEADER, AfterShipClient};
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NUMBER: &str = "9400111899223100001234";
const PATH: &str = "/v4/trackings/usps/9400111899223100001234";

/// Tracks NUMBER against a server answering `template` to requests that carry the key.
async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(header(API_KEY_HEADER, KEY))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    let client = AfterShipClient::new("usps", config(&server)).unwrap();
    assert_eq!(client.carrier(), "usps");
    client.track(NUMBER).await
}

#[tokio::test]
async fn normal_answer_maps_every_checkpoint() {
    let report = track(json(200, fixture("aftership/tracking.json")))
        .await
        .unwrap();
    assert_eq!(report.tracking_number, NUMBER);
    check_events(
        &report.events,
        &[
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
        ],
    );
    let raw: serde_json::Value = serde_json::from_str(&report.events[1].raw_payload).unwrap();
    assert_eq!(raw["raw_tag"], "OF");
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let err = track(json(404, fixture("aftership/not_found.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = track(json(500, fixture("aftership/server_error.json")))
        .await
        .unwrap_err();
    assert_carrier_status(&err, 500);
    assert_no_secret(&err, &[KEY]);
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = track(slow(json(200, fixture("aftership/tracking.json"))))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = track(json(200, fixture("aftership/malformed.json")))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
    let err = track(json(200, "<html>oops</html>".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let template =
        rate_limited().set_body_raw(fixture("aftership/rate_limited.json"), "application/json");
    let err = track(template).await.unwrap_err();
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
    let err = track(json(401, body)).await.unwrap_err();
    assert_eq!(err, TrackError::Unauthorized);
    // A carrier that echoes the key in an error page: the message is redacted.
    let page = format!("<html>Bad gateway for key {KEY}</html>");
    let err = track(ResponseTemplate::new(502).set_body_string(page))
        .await
        .unwrap_err();
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
    assert_eq!(
        client.track("RR/1 1").await.unwrap_err(),
        TrackError::NotFound
    );
}

#[tokio::test]
async fn recorded_shape_with_offsets_and_subtags() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v4/trackings/postnl-3s/3SKABC1234567"))
        .and(header(API_KEY_HEADER, KEY))
        .respond_with(json(
            200,
            fixture("aftership/tracking_postnl_in_transit.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = AfterShipClient::new("postnl-3s", config(&server)).unwrap();
    let report = client.track("3SKABC1234567").await.unwrap();
    assert_eq!(report.tracking_number, "3SKABC1234567");
    check_events(
        &report.events,
        &[
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
        ],
    );
}

#[tokio::test]
async fn pending_tracking_has_no_events() {
    let report = track(json(200, fixture("aftership/pending.json")))
        .await
        .unwrap();
    assert_eq!(report.tracking_number, "HH20240408");
    assert!(report.events.is_empty());
}

#[tokio::test]
async fn recorded_502_plain_text_is_a_carrier_error() {
    let template =
        ResponseTemplate::new(502).set_body_raw(fixture("aftership/bad_gateway.txt"), "text/plain");
    let err = track(template).await.unwrap_err();
    assert_eq!(
        err,
        TrackError::Carrier {
            status: 502,
            message: "Interal Error".into()
        }
    );
    assert!(err.is_transient());
}
