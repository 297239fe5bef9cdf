//! TrackingService and the Intelipost webhook on real PostgreSQL, over real gRPC and HTTP:
//! ingestion idempotency and event-time order (R21, R22), cancellation with who cancelled
//! (R15, R18), stuck trackings (R12, R13) and the webhook (R12, R14).

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;
use serde_json::Value;
use tonic::Code;

fn event(number: &str, id: &str, at: chrono::DateTime<Utc>, code: &str) -> pb::TrackingEvent {
    pb::TrackingEvent {
        carrier: "usps".into(),
        tracking_number: number.into(),
        event_id: id.into(),
        occurred_at: Some(ts(at)),
        carrier_status_code: code.into(),
        carrier_status_text: format!("{code} text"),
        location: "Memphis, TN".into(),
        raw_payload: format!("{{\"tag\":\"{code}\"}}"),
    }
}

fn count(conn: &mut PgConnection, table: &str) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("SELECT count(*) FROM {table}"))
        .get_result(conn)
        .unwrap()
}

async fn get_by_key(
    s: &mut TestServer,
    merchant: &str,
    carrier: &str,
    number: &str,
) -> pb::Tracking {
    s.tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: merchant.into(),
            lookup: Some(pb::get_tracking_request::Lookup::Key(pb::TrackingKey {
                carrier: carrier.into(),
                tracking_number: number.into(),
            })),
        })
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap()
}

/// A merchant with one order shipped with `carrier` `number` today.
async fn shipped(s: &mut TestServer, merchant: &str, order: &str, carrier: &str, number: &str) {
    s.release_at(merchant, order, today() - Duration::days(1), alice())
        .await;
    s.orders
        .fulfill_order(fulfil(merchant, order, carrier, number))
        .await
        .unwrap();
}

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
    let delivered = s
        .tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![
                event(n, "e-3", t(30), "Delivered"),
                event(n, "e-1", t(2), "InfoReceived"),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((delivered.accepted, delivered.duplicates), (2, 0));
    let late = s
        .tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![
                event(n, "e-2", t(5), "InTransit"),
                event(n, "", t(20), "OutForDelivery"),
                event("UNKNOWN12345", "x-1", t(5), "InTransit"),
            ],
        })
        .await
        .unwrap()
        .into_inner();
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

    // Redelivery of everything (hashed ids included) changes nothing.
    let mut conn = s.conn();
    let rows = count(&mut conn, "tracking_events");
    let again = s
        .tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![
                event(n, "e-1", t(2), "InfoReceived"),
                event(n, "e-2", t(5), "InTransit"),
                event(n, "", t(20), "OutForDelivery"),
                event(n, "e-3", t(30), "Delivered"),
                event(n, "e-3", t(30), "Delivered"),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.accepted, again.duplicates), (0, 5));
    assert_eq!(count(&mut conn, "tracking_events"), rows);
    assert_eq!(get_by_key(&mut s, "m-1", "usps", n).await, tracking);
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
    s.stop().await;
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

#[tokio::test]
async fn r15_r18_cancel_tracking_records_who_cancelled_once() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    shipped(&mut s, "m-1", "o-1", "wishpost", "WP1234567890").await;
    let cancel = |by: pb::CancelledBy| pb::CancelTrackingRequest {
        key: Some(pb::TrackingKey {
            carrier: "wishpost".into(),
            tracking_number: "wp1234567890".into(),
        }),
        cancelled_by: by as i32,
        cancelled_at: None,
    };
    let first = s
        .tracking
        .cancel_tracking(cancel(pb::CancelledBy::Merchant))
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(first.status, pb::TrackingStatus::Cancelled as i32);
    assert_eq!(first.cancelled_by, pb::CancelledBy::Merchant as i32);
    assert_eq!(first.cancelled_at, Some(ts(today())));
    // A second cancellation (even saying carrier) changes nothing: the first said who.
    s.clock.advance(Duration::hours(1));
    let second = s
        .tracking
        .cancel_tracking(cancel(pb::CancelledBy::Carrier))
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(second, first);
    // By order too; and the cancelled number is refused for a new shipment of this merchant.
    let by_order = s
        .tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: "m-1".into(),
            lookup: Some(pb::get_tracking_request::Lookup::OrderId("o-1".into())),
        })
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(by_order, first);
    let err = s
        .tracking
        .cancel_tracking(pb::CancelTrackingRequest {
            cancelled_by: pb::CancelledBy::Unspecified as i32,
            ..cancel(pb::CancelledBy::Merchant)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&err).1, ["cancelled_by"]);
    let unknown = s
        .tracking
        .cancel_tracking(pb::CancelTrackingRequest {
            key: Some(pb::TrackingKey {
                carrier: "wishpost".into(),
                tracking_number: "WP0000000000".into(),
            }),
            ..cancel(pb::CancelledBy::Merchant)
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test]
async fn r21_a_carrier_cancelled_status_marks_the_tracking_cancelled_by_the_carrier() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    shipped(&mut s, "m-1", "o-1", "inpost", "602677439331630337653846").await;
    let n = "602677439331630337653846";
    let ev = |id: &str, h: i64, code: &str| pb::TrackingEvent {
        carrier: "inpost".into(),
        ..event(n, id, today() + Duration::hours(h), code)
    };
    s.tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![ev("1", 1, "collected_from_sender"), ev("2", 9, "canceled")],
        })
        .await
        .unwrap();
    let t = get_by_key(&mut s, "m-1", "inpost", n).await;
    assert_eq!(t.status, pb::TrackingStatus::Cancelled as i32);
    assert_eq!(t.cancelled_by, pb::CancelledBy::Carrier as i32);
    assert_eq!(t.cancelled_at, Some(ts(today() + Duration::hours(9))));
    // The confirmed time of the earlier scan stays on the tracking (R15 removes it per order).
    assert_eq!(
        t.confirmed_fulfillment_at,
        Some(ts(today() + Duration::hours(1)))
    );
    s.stop().await;
}

#[tokio::test]
async fn get_tracking_of_another_merchant_is_not_found() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    shipped(&mut s, "m-1", "o-1", "usps", "9400111899223344556677").await;
    for lookup in [
        pb::get_tracking_request::Lookup::Key(pb::TrackingKey {
            carrier: "usps".into(),
            tracking_number: "9400111899223344556677".into(),
        }),
        pb::get_tracking_request::Lookup::OrderId("o-1".into()),
    ] {
        let err = s
            .tracking
            .get_tracking(pb::GetTrackingRequest {
                merchant_id: "m-2".into(),
                lookup: Some(lookup.clone()),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{lookup:?}");
        let own = s
            .tracking
            .get_tracking(pb::GetTrackingRequest {
                merchant_id: "m-1".into(),
                lookup: Some(lookup),
            })
            .await
            .unwrap();
        assert_eq!(own.into_inner().tracking.unwrap().order_ids, ["o-1"]);
    }
    let none = s
        .tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: "m-1".into(),
            lookup: None,
        })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::InvalidArgument);
    s.stop().await;
}

async fn stuck(
    s: &mut TestServer,
    merchant: &str,
    page_size: i32,
    token: &str,
) -> pb::ListStuckTrackingsResponse {
    s.tracking
        .list_stuck_trackings(pb::ListStuckTrackingsRequest {
            merchant_id: merchant.into(),
            page_size,
            page_token: token.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

// ---- Intelipost: the webhook (R14), NF-e mapping (R12), integration state (R13) ----

const USER: &str = "loja-br@intelipost";
const PASSWORD: &str = "w3bh00k-Secret!";

/// A fixture of ours in Intelipost's real push shape (carriers/tests/fixtures/intelipost).
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../carriers/tests/fixtures/intelipost/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The documented push for NF-e `nfe`, carrier number `code`: no sales channel (R14).
fn push_body(nfe: &str, code: Option<&str>, state: &str, history_id: i64, at: &str) -> String {
    let mut push = fixture("push_in_transit.json");
    push["invoice"]["invoice_number"] = nfe.into();
    push["tracking_code"] = code.map_or(Value::Null, Into::into);
    push["history"]["shipment_order_volume_state"] = state.into();
    push["history"]["shipment_order_volume_state_history"] = history_id.into();
    push["history"]["event_date_iso"] = at.into();
    push.to_string()
}

async fn post(s: &TestServer, auth: Option<(&str, &str)>, body: String) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!(
            "http://{}/couriers/intelipost/trackings/v1",
            s.webhook
        ))
        .header("content-type", "application/json")
        .body(body);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn connect_intelipost(s: &mut TestServer, merchant: &str) -> pb::IntelipostIntegration {
    s.tracking
        .set_intelipost_integration(pb::SetIntelipostIntegrationRequest {
            merchant_id: merchant.into(),
            username: USER.into(),
            password: PASSWORD.into(),
            connected: true,
        })
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
}

#[tokio::test]
async fn r13_r12_stuck_trackings_say_why_until_intelipost_reports() {
    let mut s = TestServer::start().await;
    s.merchant("m-br", "BR").await;
    // By API with the carrier's number, no mapping yet (R12); by NF-e without integration (R13);
    // and a WishPost parcel not scanned yet.
    s.clock.set(today() - Duration::hours(3));
    shipped(&mut s, "m-br", "o-1", "intelipost", "OB123456789BR").await;
    s.clock.set(today() - Duration::hours(2));
    shipped(&mut s, "m-br", "o-2", "intelipost", "35190").await;
    s.clock.set(today() - Duration::hours(1));
    shipped(&mut s, "m-br", "o-3", "wishpost", "WP1234567890").await;
    s.clock.set(today());

    let page1 = stuck(&mut s, "m-br", 2, "").await;
    let page2 = stuck(&mut s, "m-br", 2, &page1.next_page_token).await;
    assert!(!page1.next_page_token.is_empty() && page2.next_page_token.is_empty());
    let all: Vec<_> = page1.stuck.iter().chain(&page2.stuck).collect();
    let reasons: Vec<_> = all
        .iter()
        .map(|t| (t.order_id.as_str(), t.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("o-1", pb::StuckReason::UnresolvedCarrierNumber as i32),
            ("o-2", pb::StuckReason::IntelipostNotConnected as i32),
            ("o-3", pb::StuckReason::NoCarrierScan as i32),
        ]
    );
    assert!(all[1].message.contains("R13"));
    assert!(!s.get("m-br", "o-2").await.payment_eligible);

    // The merchant connects; Intelipost pushes o-2's first scan and the mapping for o-1's number.
    let integration = connect_intelipost(&mut s, "m-br").await;
    assert!(integration.connected && integration.username == USER);
    let (code, _) = post(
        &s,
        Some((USER, PASSWORD)),
        push_body(
            "35190",
            None,
            "IN_TRANSIT",
            1,
            "2026-11-23T09:00:00.000-03:00",
        ),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = post(
        &s,
        Some((USER, PASSWORD)),
        push_body(
            "77001",
            Some("OB123456789BR"),
            "SHIPPED",
            2,
            "2026-11-23T08:00:00.000-03:00",
        ),
    )
    .await;
    assert_eq!(code, 200);

    // o-2 is confirmed; o-1's tracking now carries the NF-e number, resolved from Intelipost's
    // report (an audit row says so), and the push applies to it. SHIPPED is the merchant's own
    // mark in Intelipost, not the carrier's scan (R6): o-1 is not confirmed yet.
    assert!(s.get("m-br", "o-2").await.payment_eligible);
    let o1 = s.get("m-br", "o-1").await.tracking.unwrap();
    assert_eq!(o1.tracking_number, "77001");
    assert_eq!(o1.status, pb::TrackingStatus::InfoReceived as i32);
    let kinds: Vec<String> = fulfillment_core::repo::audit::events_for_order(&mut s.conn(), "o-1")
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["released", "shipped", "tracking_resolved"]);
    let reasons = |page: pb::ListStuckTrackingsResponse| -> Vec<(String, i32)> {
        page.stuck
            .iter()
            .map(|t| (t.order_id.clone(), t.reason))
            .collect()
    };
    assert_eq!(
        reasons(stuck(&mut s, "m-br", 0, "").await),
        [
            ("o-1".to_owned(), pb::StuckReason::NoCarrierScan as i32),
            ("o-3".to_owned(), pb::StuckReason::NoCarrierScan as i32),
        ]
    );
    assert!(!s.get("m-br", "o-1").await.payment_eligible);

    // The carrier's first scan: o-1 is confirmed. Only the WishPost parcel remains stuck.
    let (code, _) = post(
        &s,
        Some((USER, PASSWORD)),
        push_body(
            "77001",
            Some("OB123456789BR"),
            "IN_TRANSIT",
            3,
            "2026-11-23T10:00:00.000-03:00",
        ),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        reasons(stuck(&mut s, "m-br", 0, "").await),
        [("o-3".to_owned(), pb::StuckReason::NoCarrierScan as i32)]
    );
    assert!(s.get("m-br", "o-1").await.payment_eligible);
    s.stop().await;
}

#[tokio::test]
async fn r14_a_genuine_push_is_accepted_and_applied() {
    let mut s = TestServer::start().await;
    s.merchant("m-br", "BR").await;
    shipped(&mut s, "m-br", "o-1", "intelipost", "48123").await;
    connect_intelipost(&mut s, "m-br").await;
    let mut conn = s.conn();
    let before = get_by_key(&mut s, "m-br", "intelipost", "48123").await;
    assert_eq!(before.status, pb::TrackingStatus::Pending as i32);

    // The body as Intelipost's SDK shows it: no sales channel, the NF-e in `invoice`.
    let genuine = fixture("push_new.json").to_string();
    let (code, answer) = post(&s, Some((USER, PASSWORD)), genuine.clone()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let tracking = get_by_key(&mut s, "m-br", "intelipost", "48123").await;
    // It leaves PENDING; NEW is not a scan, so nothing is confirmed yet (R6, R21).
    assert_eq!(tracking.status, pb::TrackingStatus::InfoReceived as i32);
    assert_eq!(tracking.confirmed_fulfillment_at, None);
    assert_eq!(tracking.checkpoints[0].carrier_status_code, "NEW");
    assert_eq!(tracking.checkpoints[0].carrier_status_text, "Criado");
    assert!(!s.get("m-br", "o-1").await.payment_eligible);
    // R12: the carrier's tracking code is recorded against the NF-e.
    let mapped =
        fulfillment_core::repo::intelipost::resolve(&mut conn, "m-br", "QB512930466BR").unwrap();
    assert_eq!(mapped.as_deref(), Some("48123"));

    // A body with fields we do not know, a sales channel among them, is accepted (R14) and
    // its real scan confirms fulfilment at the carrier's time.
    let mut extra = fixture("push_unsourced_extra_fields.json");
    extra["sales_channel"] = "loja-virtual".into();
    let (code, answer) = post(&s, Some((USER, PASSWORD)), extra.to_string()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let tracking = get_by_key(&mut s, "m-br", "intelipost", "48123").await;
    assert_eq!(tracking.status, pb::TrackingStatus::InTransit as i32);
    let scanned = Utc.with_ymd_and_hms(2023, 11, 22, 13, 0, 0).unwrap();
    assert_eq!(tracking.confirmed_fulfillment_at, Some(ts(scanned)));
    assert!(s.get("m-br", "o-1").await.payment_eligible);

    // Redelivered, in any order: nothing changes (R22).
    for body in [genuine, extra.to_string()] {
        let (code, answer) = post(&s, Some((USER, PASSWORD)), body).await;
        assert_eq!(
            (code, answer["duplicates"].as_i64()),
            (200, Some(1)),
            "{answer}"
        );
    }
    assert_eq!(count(&mut conn, "tracking_events"), 2);
    assert_eq!(
        get_by_key(&mut s, "m-br", "intelipost", "48123").await,
        tracking
    );
    s.stop().await;
}

#[tokio::test]
async fn r14_the_webhook_checks_credentials_body_and_redelivery() {
    let mut s = TestServer::start().await;
    s.merchant("m-br", "BR").await;
    s.merchant("m-other", "BR").await;
    shipped(&mut s, "m-br", "o-1", "intelipost", "35190").await;
    connect_intelipost(&mut s, "m-br").await;
    let body = push_body(
        "35190",
        Some("OB123456789BR"),
        "IN_TRANSIT",
        7,
        "2026-11-23T09:00:00.000-03:00",
    );
    let mut conn = s.conn();

    // Wrong or missing credentials: 401, nothing stored.
    for auth in [None, Some((USER, "wrong")), Some(("nobody", PASSWORD))] {
        let (code, _) = post(&s, auth, body.clone()).await;
        assert_eq!(code, 401, "{auth:?}");
    }
    assert_eq!(count(&mut conn, "tracking_events"), 0);
    assert_eq!(count(&mut conn, "intelipost_nfe_mappings"), 0);

    // Malformed bodies: 400 with the reason and the field at fault; nothing stored.
    for (bad, says) in [
        ("".to_owned(), "empty"),
        ("{not json".to_owned(), "JSON"),
        ("[1,2]".to_owned(), "object"),
        (
            fixture("push_wrong_type.json").to_string(),
            "invoice.invoice_number",
        ),
    ] {
        let (code, answer) = post(&s, Some((USER, PASSWORD)), bad).await;
        assert_eq!(code, 400, "{says}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer}");
    }
    // A body that names no tracking: 400, saying so.
    let (code, answer) = post(
        &s,
        Some((USER, PASSWORD)),
        fixture("push_unsourced_unidentifiable.json").to_string(),
    )
    .await;
    assert_eq!(code, 400, "{answer}");
    assert_eq!(answer["reason"], "INTELIPOST_PUSH_UNIDENTIFIED", "{answer}");
    assert_eq!(answer["field"], "invoice.invoice_number", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("NF-e"),
        "{answer}"
    );
    // No NF-e, and a carrier code Intelipost has not mapped yet: 400, never guessed (R12).
    let mut no_invoice = fixture("push_unsourced_no_invoice.json");
    no_invoice["tracking_code"] = "OB123456789BR".into();
    no_invoice["history"]["event_date_iso"] = "2026-11-24T09:00:00.000-03:00".into();
    let (code, answer) = post(&s, Some((USER, PASSWORD)), no_invoice.to_string()).await;
    assert_eq!(code, 400, "{answer}");
    assert_eq!(answer["reason"], "INTELIPOST_PUSH_UNIDENTIFIED", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("OB123456789BR"),
        "{answer}"
    );
    assert_eq!(count(&mut conn, "tracking_events"), 0);
    // Over the body limit: 413.
    let (code, _) = post(&s, Some((USER, PASSWORD)), "x".repeat(100 * 1024)).await;
    assert_eq!(code, 413);
    assert_eq!(count(&mut conn, "tracking_events"), 0);

    // The push: 200, the tracking moves, the mapping is stored (R12).
    let (code, answer) = post(&s, Some((USER, PASSWORD)), body.clone()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let tracking = get_by_key(&mut s, "m-br", "intelipost", "35190").await;
    assert_eq!(tracking.status, pb::TrackingStatus::InTransit as i32);
    let confirmed = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    assert_eq!(tracking.confirmed_fulfillment_at, Some(ts(confirmed)));
    assert_eq!(tracking.checkpoints[0].carrier_status_code, "IN_TRANSIT");
    // Redelivered: 200, no change.
    let (code, answer) = post(&s, Some((USER, PASSWORD)), body.clone()).await;
    assert_eq!(
        (code, answer["duplicates"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(count(&mut conn, "tracking_events"), 1);
    assert_eq!(
        get_by_key(&mut s, "m-br", "intelipost", "35190").await,
        tracking
    );

    // Now that Intelipost has mapped the carrier's code, a push without an NF-e is resolved
    // through it (R12) and applies to the NF-e tracking.
    let (code, answer) = post(&s, Some((USER, PASSWORD)), no_invoice.to_string()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let delivered = get_by_key(&mut s, "m-br", "intelipost", "35190").await;
    assert_eq!(delivered.status, pb::TrackingStatus::Delivered as i32);
    assert_eq!(count(&mut conn, "tracking_events"), 2);

    // R12: fulfilling by API with the carrier's number now stores the NF-e number.
    s.release_at("m-br", "o-2", today() - Duration::days(1), alice())
        .await;
    let shipped = s
        .orders
        .fulfill_order(fulfil("m-br", "o-2", "intelipost", "ob123456789br"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(shipped.tracking.unwrap().tracking_number, "35190");
    // By hand, the carrier's number is still refused (R12).
    let mut by_hand = fulfil("m-br", "o-3", "intelipost", "OB123456789BR");
    by_hand.channel = pb::Channel::Dashboard as i32;
    s.release_at("m-br", "o-3", today() - Duration::days(1), alice())
        .await;
    let err = s.orders.fulfill_order(by_hand).await.unwrap_err();
    assert_eq!(error_reason(&err).0, "INTELIPOST_NFE_REQUIRED");

    // A disconnected integration's credentials stop working.
    s.tracking
        .set_intelipost_integration(pb::SetIntelipostIntegrationRequest {
            merchant_id: "m-br".into(),
            connected: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let (code, _) = post(&s, Some((USER, PASSWORD)), body).await;
    assert_eq!(code, 401);
    // The password is stored hashed, never as given.
    let stored: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT password_hash FROM intelipost_integrations",
    )
    .get_result(&mut conn)
    .unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$") && !stored.contains(PASSWORD));
    // Another merchant may not take the same user name.
    let err = s
        .tracking
        .set_intelipost_integration(pb::SetIntelipostIntegrationRequest {
            merchant_id: "m-other".into(),
            username: USER.into(),
            password: "another".into(),
            connected: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    s.stop().await;
}
