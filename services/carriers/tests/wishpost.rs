#![allow(clippy::unwrap_used)]
//! WishPost's v2 XML tracking API. No real answer is public: the fixtures are modelled from
//! the schema public clients use and named `modelled_from_schema_*.xml` (see their README).

mod common;

use common::*;
use fulfillment_carriers::wishpost::{TRACKING_PATH, WishPostClient};
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NUMBER: &str = "LM123456789CN";

/// Tracks `number` against a server answering `template` to a well-formed v2 request.
async fn track_number(number: &str, template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TRACKING_PATH))
        .and(header("content-type", "application/xml; charset=utf-8"))
        .and(body_string_contains(format!(
            "<tracks><access_token>{KEY}</access_token><language>cn</language>"
        )))
        .and(body_string_contains(format!(
            "<track><barcode>{number}</barcode></track></tracks>"
        )))
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
    let report = answered(track(xml(
        200,
        fixture("wishpost/modelled_from_schema_tracking.xml"),
    )))
    .await;
    // Dates carry no zone: China Standard Time, UTC+8.
    check_report(&report, NUMBER, TRACKING_XML);
    let raw = &report.events[4].raw_payload;
    assert!(raw.starts_with("<track>"), "{raw}");
    assert!(raw.contains("<status_number>23</status_number>"), "{raw}");
    assert!(raw.ends_with("</track>"), "{raw}");
}

#[tokio::test]
async fn the_go_clients_spelling_parses_too() {
    let report = answered(track(xml(
        200,
        fixture("wishpost/modelled_from_schema_tracking_go_spelling.xml"),
    )))
    .await;
    let event = &report.events[0];
    assert_eq!(event.carrier_status_code, "2");
    assert_eq!(event.status, TrackingStatus::InTransit);
    assert_eq!(event.location, "Shenzhen, Guangdong, CN");
}

#[tokio::test]
async fn cancelled_is_cancelled() {
    let report = answered(track_number(
        "LM987654321CN",
        xml(200, fixture("wishpost/modelled_from_schema_cancelled.xml")),
    ))
    .await;
    assert_eq!(report.tracking_number, "LM987654321CN");
    let last = report.events.last().unwrap();
    assert_eq!(last.status, TrackingStatus::Cancelled);
    assert_eq!(last.carrier_status_code, "Cancelled");
    assert_eq!(last.occurred_at, utc("2024-03-01T03:00:00Z"));
}

#[tokio::test]
async fn invalid_barcode_is_not_found() {
    let err = failed(track(xml(
        200,
        fixture("wishpost/modelled_from_schema_invalid_barcode.xml"),
    )))
    .await;
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn an_answer_about_another_barcode_is_malformed() {
    let body = fixture("wishpost/modelled_from_schema_tracking.xml")
        .replace(NUMBER, "LM000000000CN")
        .replace("<tracks ", "<tracks x=\"1\" ")
        .replace("</tracks>", "</tracks><tracks barcode=\"LM111111111CN\"/>");
    let err = failed(track(xml(200, body))).await;
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rejected_token_is_unauthorized_and_never_shown() {
    let err = failed(track(xml(
        200,
        fixture("wishpost/modelled_from_schema_bad_token.xml"),
    )))
    .await;
    assert_eq!(err, TrackError::Unauthorized);
    let err = failed(track(xml(
        401,
        fixture("wishpost/modelled_from_schema_bad_token.xml"),
    )))
    .await;
    assert_eq!(err, TrackError::Unauthorized);
    // A request error echoing the token: reported, redacted.
    let echo = format!(
        "<root><status>2</status><error_message>upstream refused {KEY}</error_message></root>"
    );
    let err = failed(track(xml(200, echo))).await;
    assert_carrier_status(&err, 200);
    assert_no_secret(&err, &[KEY]);
}

#[tokio::test]
async fn the_token_is_escaped_in_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(
            "<access_token>a&amp;b&lt;c</access_token>",
        ))
        .respond_with(xml(
            200,
            fixture("wishpost/modelled_from_schema_tracking.xml"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.api_key = Some("a&b<c".into());
    let client = WishPostClient::new(config).unwrap();
    let report = answered(client.track(NUMBER)).await;
    assert_eq!(report.events.len(), 5);
}

// --- the events each fixture holds, as the tests above expect them ---

/// The tracks of `wishpost/modelled_from_schema_tracking.xml`, in the answer's order.
const TRACKING_XML: &[Expected<'static>] = &[
    Expected {
        id: None,
        at: "2024-03-01T01:12:00Z",
        status: TrackingStatus::InfoReceived,
        code: "1",
        text: "Wishpost订单已生成",
        location: "Shenzhen",
    },
    Expected {
        id: None,
        at: "2024-03-01T10:40:00Z",
        status: TrackingStatus::InTransit,
        code: "2",
        text: "揽件",
        location: "Shenzhen, Guangdong, CN",
    },
    // Out of order in the answer.
    Expected {
        id: None,
        at: "2024-03-03T18:05:00Z",
        status: TrackingStatus::InTransit,
        code: "16",
        text: "从机场发往目的国",
        location: "Shenzhen Bao'an Airport",
    },
    Expected {
        id: None,
        at: "2024-03-02T00:30:00Z",
        status: TrackingStatus::InTransit,
        code: "3",
        text: "到达头程分拣中心",
        location: "Shenzhen sorting centre & hub",
    },
    Expected {
        id: None,
        at: "2024-03-12T13:22:00Z",
        status: TrackingStatus::Delivered,
        code: "23",
        text: "妥投",
        location: "Warszawa, PL",
    },
];
