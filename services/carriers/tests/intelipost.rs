#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::intelipost::{API_KEY_HEADER, IntelipostClient, PushError, parse_push};
use fulfillment_carriers::{TrackError, TrackReport, TrackingClient, TrackingStatus};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Our tracking number for Intelipost: the NF-e number.
const INVOICE: &str = "12345";
const PATH: &str = "/api/v1/shipment_order/invoice/12345";

async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(header(API_KEY_HEADER, KEY))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    let client = IntelipostClient::new(config(&server)).unwrap();
    assert_eq!(client.carrier(), "intelipost");
    client.track(INVOICE).await
}

#[tokio::test]
async fn normal_answer_maps_the_history_of_our_invoice() {
    let report = track(json(200, fixture("intelipost/shipment_order.json")))
        .await
        .unwrap();
    assert_eq!(report.tracking_number, INVOICE);
    // Volume 2 belongs to invoice 99999: left out.
    check_events(
        &report.events,
        &[
            Expected {
                id: Some("1384001"),
                at: "2016-06-30T13:00:00Z",
                status: TrackingStatus::InfoReceived,
                code: "NEW",
                text: "CRIADO",
                location: "",
            },
            Expected {
                id: Some("1384656"),
                at: "2016-07-01T20:22:00Z",
                status: TrackingStatus::InTransit,
                code: "IN_TRANSIT",
                text: "CARGA REDESPACHADA",
                location: "",
            },
            Expected {
                id: Some("1385990"),
                at: "2016-07-04T16:40:00Z",
                status: TrackingStatus::Delivered,
                code: "DELIVERED",
                text: "ENTREGUE",
                location: "",
            },
            // Out of order; no ISO date, epoch milliseconds; no micro state.
            Expected {
                id: Some("1384310"),
                at: "2016-07-01T13:00:00Z",
                status: TrackingStatus::InTransit,
                code: "SHIPPED",
                text: "Despachado",
                location: "",
            },
        ],
    );
    let raw: serde_json::Value = serde_json::from_str(&report.events[1].raw_payload).unwrap();
    assert_eq!(raw["provider_state"], "ABC123");
}

#[tokio::test]
async fn unknown_invoice_is_not_found() {
    let err = track(json(400, fixture("intelipost/not_found.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
    let err = track(json(200, fixture("intelipost/not_found.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
    let err = track(json(200, fixture("intelipost/empty_content.json")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = track(json(500, fixture("intelipost/server_error.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Carrier { status: 500, .. }),
        "{err:?}"
    );
    let err = track(json(200, fixture("intelipost/server_error.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Carrier { ref message, .. } if message.contains("internal.server.error")),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = track(slow(json(200, fixture("intelipost/shipment_order.json"))))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = track(json(200, fixture("intelipost/malformed.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Malformed(ref m) if m.contains("shipment_order_volume_state")),
        "{err:?}"
    );
    let err = track(json(200, "not json".into())).await.unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let err = track(rate_limited()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn rejected_key_is_unauthorized_and_never_shown() {
    let body = format!(
        r#"{{"status":"ERROR","messages":[{{"type":"ERROR","text":"api-key {KEY} inválida","key":"invalid.api.key"}}]}}"#
    );
    let err = track(json(401, body)).await.unwrap_err();
    assert_eq!(err, TrackError::Unauthorized);
    let body = format!(
        r#"{{"status":"ERROR","messages":[{{"type":"ERROR","text":"falha com chave {KEY}","key":"quote.failed"}}]}}"#
    );
    let err = track(json(200, body)).await.unwrap_err();
    assert!(matches!(err, TrackError::Carrier { .. }), "{err:?}");
    assert_no_secret(&err, &[KEY]);
}

// --- webhook pushes ---

#[test]
fn push_in_transit() {
    let push = parse_push(fixture("intelipost/push_in_transit.json").as_bytes()).unwrap();
    assert_eq!(push.sales_channel, "loja-virtual");
    assert_eq!(push.tracking_code.as_deref(), Some("IP20160701BR"));
    assert_eq!(push.invoice_number, "12345");
    check_events(
        std::slice::from_ref(&push.event),
        &[Expected {
            id: Some("1384656"),
            at: "2016-07-01T20:22:00Z",
            status: TrackingStatus::InTransit,
            code: "IN_TRANSIT",
            text: "CARGA REDESPACHADA",
            location: "",
        }],
    );
    let raw: serde_json::Value = serde_json::from_str(&push.event.raw_payload).unwrap();
    assert_eq!(raw["esprinter_message"], "OBJETO EM RUA");
}

#[tokio::test]
async fn a_pushed_event_and_the_same_event_polled_are_equal() {
    let push = parse_push(fixture("intelipost/push_in_transit.json").as_bytes()).unwrap();
    let report = track(json(200, fixture("intelipost/shipment_order.json")))
        .await
        .unwrap();
    let polled = &report.events[1];
    assert_eq!(polled.event_id, push.event.event_id);
    assert_eq!(polled.occurred_at, push.event.occurred_at);
    assert_eq!(polled.status, push.event.status);
    assert_eq!(polled.carrier_status_code, push.event.carrier_status_code);
}

#[test]
fn push_cancelled_without_tracking_code() {
    let push =
        parse_push(fixture("intelipost/push_cancelled_no_tracking_code.json").as_bytes()).unwrap();
    assert_eq!(push.sales_channel, "marketplace");
    assert_eq!(push.tracking_code, None);
    // Sent as a JSON number.
    assert_eq!(push.invoice_number, "12346");
    assert_eq!(push.event.status, TrackingStatus::Cancelled);
    assert_eq!(push.event.event_id, None);
    assert_eq!(push.event.occurred_at, utc("2016-07-02T22:00:00Z"));
    assert_eq!(push.event.carrier_status_text, "Cancelado");
}

#[test]
fn push_missing_invoice() {
    let err = parse_push(fixture("intelipost/push_missing_invoice.json").as_bytes()).unwrap_err();
    assert_eq!(err, PushError::Missing("invoice".into()));
    assert_eq!(err.to_string(), "missing field `invoice`");
    assert_eq!(err.field(), Some("invoice"));

    let err = parse_push(br#"{"sales_channel":"s","invoice":{"invoice_series":"1"},"history":{}}"#)
        .unwrap_err();
    assert_eq!(err.field(), Some("invoice.invoice_number"));
}

#[test]
fn push_wrong_json_types() {
    let err = parse_push(fixture("intelipost/push_wrong_type.json").as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid field `invoice.invoice_number`: expected a string, got an object"
    );
    let cases: [(&[u8], &str); 6] = [
        (br#"[1,2]"#, "the body is not a JSON object"),
        (br#""text""#, "the body is not a JSON object"),
        (
            br#"{"sales_channel":7.5,"invoice":{"invoice_number":"1"},"history":{}}"#,
            "invalid field `sales_channel`: expected a string, got a number",
        ),
        (
            br#"{"sales_channel":"s","invoice":"123","history":{}}"#,
            "invalid field `invoice`: expected an object, got a string",
        ),
        (
            br#"{"sales_channel":"s","invoice":{"invoice_number":"12-3"},"history":{}}"#,
            "invalid field `invoice.invoice_number`: expected the NF-e number, digits only",
        ),
        (
            br#"{"sales_channel":"s","invoice":{"invoice_number":"123"},"history":[]}"#,
            "invalid field `history`: expected an object, got an array",
        ),
    ];
    for (body, reason) in cases {
        assert_eq!(parse_push(body).unwrap_err().to_string(), reason);
    }
    let err = parse_push(
        br#"{"sales_channel":"s","invoice":{"invoice_number":"123"},"history":{"shipment_order_volume_state":"DELIVERED","event_date_iso":"yesterday"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("history.event_date_iso"));
    let err = parse_push(
        br#"{"sales_channel":"s","invoice":{"invoice_number":"123"},"history":{"event_date_iso":"2016-07-01T17:22:00-03:00"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PushError::Missing("history.shipment_order_volume_state".into())
    );
    let err = parse_push(br#"{"invoice":{"invoice_number":"123"},"history":{}}"#).unwrap_err();
    assert_eq!(err, PushError::Missing("sales_channel".into()));
}

#[test]
fn push_not_utf8_not_json_or_empty() {
    assert_eq!(
        parse_push(b"{\"sales_channel\":\"\xff\"}").unwrap_err(),
        PushError::NotUtf8
    );
    assert_eq!(parse_push(b"").unwrap_err(), PushError::Empty);
    assert_eq!(parse_push(b"  \n").unwrap_err(), PushError::Empty);
    let err = parse_push(b"{\"sales_channel\":").unwrap_err();
    assert!(matches!(err, PushError::NotJson(_)), "{err:?}");
    assert!(err.to_string().starts_with("the body is not JSON"), "{err}");
}
