#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::intelipost::{
    API_KEY_HEADER, IntelipostClient, IntelipostPush, PushError, parse_push,
};
use fulfillment_carriers::{TrackError, TrackReport, TrackingStatus};
use wiremock::ResponseTemplate;

/// Our tracking number for Intelipost: the NF-e number.
const INVOICE: &str = "12345";
const PATH: &str = "/api/v1/shipment_order/invoice/12345";

async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let make = |config| IntelipostClient::new(config).unwrap();
    track_get(
        PATH,
        (API_KEY_HEADER, KEY),
        template,
        make,
        ("intelipost", INVOICE),
    )
    .await
}

#[tokio::test]
async fn normal_answer_maps_the_history_of_our_invoice() {
    let report = answered(track(json(200, fixture("intelipost/shipment_order.json")))).await;
    // Volume 2 belongs to invoice 99999: left out.
    check_report(&report, INVOICE, SHIPMENT_ORDER_JSON);
    assert_eq!(raw_json(&report.events[1])["provider_state"], "ABC123");
}

#[tokio::test]
async fn unknown_invoice_is_not_found() {
    let err = failed(track(json(400, fixture("intelipost/not_found.json")))).await;
    assert_eq!(err, TrackError::NotFound);
    let err = failed(track(json(200, fixture("intelipost/not_found.json")))).await;
    assert_eq!(err, TrackError::NotFound);
    let err = failed(track(json(200, fixture("intelipost/empty_content.json")))).await;
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_error_is_a_carrier_error() {
    let err = failed(track(json(500, fixture("intelipost/server_error.json")))).await;
    assert_carrier_status(&err, 500);
    let err = failed(track(json(200, fixture("intelipost/server_error.json")))).await;
    assert!(
        matches!(err, TrackError::Carrier { ref message, .. } if message.contains("internal.server.error")),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = failed(track(slow(json(
        200,
        fixture("intelipost/shipment_order.json"),
    ))))
    .await;
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = failed(track(json(200, fixture("intelipost/malformed.json")))).await;
    assert!(
        matches!(err, TrackError::Malformed(ref m) if m.contains("shipment_order_volume_state")),
        "{err:?}"
    );
    let err = failed(track(json(200, "not json".into()))).await;
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let err = failed(track(rate_limited())).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn rejected_key_is_unauthorized_and_never_shown() {
    let body = format!(
        r#"{{"status":"ERROR","messages":[{{"type":"ERROR","text":"api-key {KEY} inválida","key":"invalid.api.key"}}]}}"#
    );
    let err = failed(track(json(401, body))).await;
    assert_eq!(err, TrackError::Unauthorized);
    let body = format!(
        r#"{{"status":"ERROR","messages":[{{"type":"ERROR","text":"falha com chave {KEY}","key":"quote.failed"}}]}}"#
    );
    let err = failed(track(json(200, body))).await;
    assert!(matches!(err, TrackError::Carrier { .. }), "{err:?}");
    assert_no_secret(&err, &[KEY]);
}

// --- webhook pushes (R12, R14): fixtures in fixtures/intelipost/README.md ---

fn push(name: &str) -> Result<IntelipostPush, PushError> {
    parse_push(fixture(&format!("intelipost/{name}")).as_bytes())
}

#[test]
fn push_of_the_sdk_shape_is_read() {
    let push = push("push_new.json").unwrap();
    assert_eq!(push.invoice_number.as_deref(), Some("48123"));
    assert_eq!(push.tracking_code.as_deref(), Some("QB512930466BR"));
    assert_eq!(push.order_number.as_deref(), Some("WISH-7F3A2"));
    assert_eq!(push.volume_number.as_deref(), Some("1"));
    check_event(
        &push.event,
        &Expected {
            id: Some("5550101"),
            // event_date_iso, -03:00, milliseconds kept.
            at: "2023-11-21T13:20:00.398Z",
            status: TrackingStatus::InfoReceived,
            code: "NEW",
            // No micro state: the localized macro state is the carrier's text.
            text: "Criado",
            location: "",
        },
    );
}

#[test]
fn push_in_transit_with_micro_state_and_documented_extras() {
    let push = push("push_in_transit.json").unwrap();
    assert_eq!(push.tracking_code.as_deref(), Some("IP20160701BR"));
    assert_eq!(push.invoice_number.as_deref(), Some("12345"));
    // The same history entry as the poll's second event (`shipment_order.json`).
    check_event(&push.event, &SHIPMENT_ORDER_JSON[1]);
    let raw: serde_json::Value = serde_json::from_str(&push.event.raw_payload).unwrap();
    assert_eq!(raw["esprinter_message"], "OBJETO EM RUA");
}

#[tokio::test]
async fn a_pushed_event_and_the_same_event_polled_are_equal() {
    let push = push("push_in_transit.json").unwrap();
    let report = answered(track(json(200, fixture("intelipost/shipment_order.json")))).await;
    let polled = &report.events[1];
    assert_eq!(polled.event_id, push.event.event_id);
    assert_eq!(polled.occurred_at, push.event.occurred_at);
    assert_eq!(polled.status, push.event.status);
    assert_eq!(polled.carrier_status_code, push.event.carrier_status_code);
}

#[test]
fn push_with_unknown_extra_fields_and_a_sales_channel_is_accepted() {
    // R14: the channel is the event rule's condition; a body that carries one anyway is fine.
    let push = push("push_unsourced_extra_fields.json").unwrap();
    assert_eq!(push.invoice_number.as_deref(), Some("48123"));
    assert_eq!(push.event.status, TrackingStatus::InTransit);
    assert_eq!(push.event.carrier_status_text, "EM TRANSITO");
    assert_eq!(push.event.event_id.as_deref(), Some("5550177"));
}

#[test]
fn push_cancelled_with_numbers_as_integers_and_no_tracking_code() {
    let push = push("push_unsourced_cancelled_numeric_invoice_no_tracking_code.json").unwrap();
    assert_eq!(push.tracking_code, None);
    assert_eq!(push.invoice_number.as_deref(), Some("12346"));
    assert_eq!(push.volume_number.as_deref(), Some("1"));
    assert_eq!(push.event.status, TrackingStatus::Cancelled);
    // No history id: R22 falls back to a hash of carrier, number, time and status.
    assert_eq!(push.event.event_id, None);
    // Only epoch milliseconds: event_date.
    assert_eq!(push.event.occurred_at, utc("2016-07-02T22:00:00Z"));
    assert_eq!(push.event.carrier_status_text, "Cancelado");
}

#[test]
fn push_without_invoice_but_with_tracking_code_is_read_for_the_service_to_resolve() {
    let push = push("push_unsourced_no_invoice.json").unwrap();
    assert_eq!(push.invoice_number, None);
    assert_eq!(push.tracking_code.as_deref(), Some("IP20160701BR"));
    assert_eq!(push.event.status, TrackingStatus::Delivered);
}

#[test]
fn push_naming_no_tracking_is_unidentifiable() {
    let err = push("push_unsourced_unidentifiable.json").unwrap_err();
    assert_eq!(err, PushError::Unidentifiable);
    assert_eq!(err.field(), Some("invoice.invoice_number"));
    assert!(err.to_string().contains("NF-e"), "{err}");
    let err = parse_push(br#"{"history":{"shipment_order_volume_state":"NEW"}}"#).unwrap_err();
    assert_eq!(err, PushError::Unidentifiable);
}

#[test]
fn push_with_a_nul_anywhere_is_refused_naming_where() {
    // Issue 19.1: PostgreSQL stores no U+0000, and the raw body is kept as it came.
    for (body, field) in [
        (
            r#"{"tracking_code":"QB512930466BR","history":{"shipment_order_volume_state":"IN_TRANSIT","provider_message":"Em tr\u0000nsito"}}"#,
            "history.provider_message",
        ),
        (
            r#"{"tracking_code":"QB512930466BR","extra":[1,"x\u0000"],"history":{"shipment_order_volume_state":"NEW"}}"#,
            "extra[1]",
        ),
    ] {
        let err = parse_push(body.as_bytes()).unwrap_err();
        assert_eq!(err.field(), Some(field), "{body}: {err}");
        assert!(err.to_string().contains("NUL"), "{err}");
    }
    // An escaped backslash before `u0000` is text, not a NUL.
    let text = parse_push(
        br#"{"tracking_code":"QB512930466BR","history":{"shipment_order_volume_state":"NEW","event_date_iso":"2023-11-22T10:00:00.000-03:00","provider_message":"a\\u0000"}}"#,
    );
    assert!(text.is_ok(), "{text:?}");
}

#[test]
fn push_identifiers_are_normalised_as_r3_says() {
    let push = parse_push(
        br#"{"tracking_code":" qb-512930466br ","invoice":{"invoice_number":" 48 123 "},"history":{"shipment_order_volume_state":"in_transit","event_date_iso":"2023-11-22T10:00:00.000-0300"}}"#,
    )
    .unwrap();
    assert_eq!(push.tracking_code.as_deref(), Some("QB512930466BR"));
    assert_eq!(push.invoice_number.as_deref(), Some("48123"));
    // Lower case state; an offset without a colon.
    assert_eq!(push.event.status, TrackingStatus::InTransit);
    assert_eq!(push.event.occurred_at, utc("2023-11-22T13:00:00Z"));
}

#[test]
fn push_of_an_unknown_state_is_stored_raw_and_read_safely() {
    let seen = || {
        fulfillment_carriers::normalize::unknown_status_count(
            "intelipost",
            "RETURNING_TO_SENDER_BY_TEST",
        )
    };
    let before = seen();
    let push = parse_push(
        br#"{"invoice":{"invoice_number":"48123"},"history":{"shipment_order_volume_state":"RETURNING_TO_SENDER_BY_TEST","shipment_order_volume_state_history":9,"provider_message":"devolvendo","event_date":1700658000000}}"#,
    )
    .unwrap();
    // R6, R21: never a scan (no confirmed fulfilment), never final, never cancelled.
    assert_eq!(push.event.status, TrackingStatus::InfoReceived);
    assert_eq!(
        push.event.carrier_status_code,
        "RETURNING_TO_SENDER_BY_TEST"
    );
    assert_eq!(push.event.carrier_status_text, "devolvendo");
    // Counted, so it can be seen and added to the table.
    assert_eq!(seen(), before + 1);
}

#[test]
fn push_wrong_json_types() {
    let err = push("push_wrong_type.json").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid field `invoice.invoice_number`: expected a string, got an object"
    );
    let cases: [(&[u8], &str); 7] = [
        (br#"[1,2]"#, "the body is not a JSON object"),
        (br#""text""#, "the body is not a JSON object"),
        (
            br#"{"tracking_code":{"code":"X"},"invoice":{"invoice_number":"1"},"history":{}}"#,
            "invalid field `tracking_code`: expected a string, got an object",
        ),
        (
            br#"{"invoice":"123","history":{}}"#,
            "invalid field `invoice`: expected an object, got a string",
        ),
        (
            br#"{"invoice":{"invoice_number":"12A3"},"history":{}}"#,
            "invalid field `invoice.invoice_number`: expected the NF-e number, digits only",
        ),
        (
            br#"{"invoice":{"invoice_number":"123"},"history":[]}"#,
            "invalid field `history`: expected an object, got an array",
        ),
        (
            br#"{"invoice":{"invoice_number":"123"}}"#,
            "missing field `history`",
        ),
    ];
    for (body, reason) in cases {
        assert_eq!(parse_push(body).unwrap_err().to_string(), reason);
    }
    let err = parse_push(
        br#"{"invoice":{"invoice_number":"123"},"history":{"shipment_order_volume_state":"DELIVERED","event_date_iso":"yesterday"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("history.event_date_iso"));
    let err = parse_push(
        br#"{"invoice":{"invoice_number":"123"},"history":{"event_date_iso":"2016-07-01T17:22:00-03:00"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        PushError::Missing("history.shipment_order_volume_state".into())
    );
    let err = parse_push(
        br#"{"invoice":{"invoice_number":"123"},"history":{"shipment_order_volume_state":"NEW"}}"#,
    )
    .unwrap_err();
    assert_eq!(err, PushError::Missing("history.event_date_iso".into()));
}

#[test]
fn push_not_utf8_not_json_or_empty() {
    assert_eq!(
        parse_push(b"{\"order_number\":\"\xff\"}").unwrap_err(),
        PushError::NotUtf8
    );
    assert_eq!(parse_push(b"").unwrap_err(), PushError::Empty);
    assert_eq!(parse_push(b"  \n").unwrap_err(), PushError::Empty);
    let err = parse_push(b"{\"order_number\":").unwrap_err();
    assert!(matches!(err, PushError::NotJson(_)), "{err:?}");
    assert!(err.to_string().starts_with("the body is not JSON"), "{err}");
}

// --- the events each fixture holds, as the tests above expect them ---

/// The history of our invoice in `intelipost/shipment_order.json`, in the answer's order.
const SHIPMENT_ORDER_JSON: &[Expected<'static>] = &[
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
        // The shipper's own "shipped" mark: not the carrier's scan (R6).
        status: TrackingStatus::InfoReceived,
        code: "SHIPPED",
        text: "Despachado",
        location: "",
    },
];
