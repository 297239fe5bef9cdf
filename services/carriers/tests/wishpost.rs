#![allow(clippy::unwrap_used)]
//! WishPost's JSON shape is modelled on its v2 tracking API (see the module doc): the fixtures
//! are named `*_modelled.json`.

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::wishpost::WishPostClient;
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NUMBER: &str = "LM123456789CN";

async fn track_number(number: &str, template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/tracking/{number}").as_str()))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    let client = WishPostClient::new(config(&server)).unwrap();
    assert_eq!(client.carrier(), "wishpost");
    client.track(number).await
}

async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    track_number(NUMBER, template).await
}

#[tokio::test]
async fn normal_answer_maps_every_track() {
    let report = track(json(200, fixture("wishpost/tracking_modelled.json")))
        .await
        .unwrap();
    assert_eq!(report.tracking_number, NUMBER);
    check_events(
        &report.events,
        &[
            Expected {
                id: Some("wp-evt-1001"),
                at: "2024-03-01T01:12:00Z",
                status: TrackingStatus::InfoReceived,
                code: "1",
                text: "WishPost order created",
                location: "Shenzhen",
            },
            Expected {
                id: Some("wp-evt-1002"),
                at: "2024-03-01T10:40:00Z",
                status: TrackingStatus::InTransit,
                code: "2",
                text: "Picked up",
                location: "Shenzhen",
            },
            // Out of order, and its status number sent as a string.
            Expected {
                id: Some("wp-evt-1005"),
                at: "2024-03-03T18:05:00Z",
                status: TrackingStatus::InTransit,
                code: "16",
                text: "Departed to the destination country",
                location: "Shenzhen Bao'an Airport",
            },
            // No offset: China Standard Time.
            Expected {
                id: Some("wp-evt-1003"),
                at: "2024-03-02T00:30:00Z",
                status: TrackingStatus::InTransit,
                code: "3",
                text: "Arrived at the first-mile sorting centre",
                location: "Shenzhen sorting centre",
            },
            Expected {
                id: Some("wp-evt-1009"),
                at: "2024-03-12T13:22:00Z",
                status: TrackingStatus::Delivered,
                code: "23",
                text: "Delivered",
                location: "Warszawa",
            },
        ],
    );
}

#[tokio::test]
async fn cancelled_order_is_cancelled() {
    let report = track_number(
        "LM987654321CN",
        json(200, fixture("wishpost/cancelled_modelled.json")),
    )
    .await
    .unwrap();
    let last = report.events.last().unwrap();
    assert_eq!(last.status, TrackingStatus::Cancelled);
    assert_eq!(last.carrier_status_code, "Cancelled");
    assert_eq!(last.occurred_at, utc("2024-03-01T03:00:00Z"));
    assert_eq!(last.event_id.as_deref(), Some("wp-evt-2002"));
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let err = track(json(200, fixture("wishpost/not_found_modelled.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
    let err = track(json(400, fixture("wishpost/not_found_modelled.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
    let err = track(ResponseTemplate::new(404)).await.unwrap_err();
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = track(json(500, fixture("wishpost/server_error_modelled.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Carrier { status: 500, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = track(slow(json(200, fixture("wishpost/tracking_modelled.json"))))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = track(json(200, fixture("wishpost/malformed_modelled.json")))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
    let err = track(json(200, "[]".into())).await.unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let err = track(rate_limited()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn rejected_token_is_unauthorized_and_never_shown() {
    let err = track(json(
        401,
        r#"{"code":1002,"message":"Invalid access token"}"#.into(),
    ))
    .await
    .unwrap_err();
    assert_eq!(err, TrackError::Unauthorized);
    let echo = format!(r#"{{"code":5001,"message":"upstream refused {KEY}"}}"#);
    let err = track(json(200, echo)).await.unwrap_err();
    assert!(matches!(err, TrackError::Carrier { .. }), "{err:?}");
    assert_no_secret(&err, &[KEY]);
}
