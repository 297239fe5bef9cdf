//! Intelipost: the webhook (R14), NF-e mapping (R12), integration state and stuck trackings (R13).

use chrono::{Duration, TimeZone, Utc};
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;
use serde_json::Value;
use tonic::Code;

use crate::common::*;
use crate::{count, get_by_key, shipped, stuck};

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

    intelipost_reports(&mut s).await;
    s.stop().await;
}

/// R13, R12: once connected, Intelipost's pushes confirm o-2, map o-1's carrier number to its
/// NF-e, and its first scan confirms o-1; only the WishPost parcel stays stuck.
async fn intelipost_reports(s: &mut TestServer) {
    // The merchant connects; Intelipost pushes o-2's first scan and the mapping for o-1's number.
    let integration = connect_intelipost(s, "m-br").await;
    assert!(integration.connected && integration.username == USER);
    let (code, _) = post(
        s,
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
        s,
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
        reasons(stuck(s, "m-br", 0, "").await),
        [
            ("o-1".to_owned(), pb::StuckReason::NoCarrierScan as i32),
            ("o-3".to_owned(), pb::StuckReason::NoCarrierScan as i32),
        ]
    );
    assert!(!s.get("m-br", "o-1").await.payment_eligible);

    // The carrier's first scan: o-1 is confirmed. Only the WishPost parcel remains stuck.
    let (code, _) = post(
        s,
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
        reasons(stuck(s, "m-br", 0, "").await),
        [("o-3".to_owned(), pb::StuckReason::NoCarrierScan as i32)]
    );
    assert!(s.get("m-br", "o-1").await.payment_eligible);
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

    let no_invoice = refuses_what_it_cannot_apply(&s, &mut conn, &body).await;
    applies_a_push_once(&mut s, &mut conn, &body, &no_invoice).await;
    fulfils_by_the_carriers_number(&mut s).await;
    disconnected_credentials_stop_working(&mut s, &mut conn, body).await;
    s.stop().await;
}

/// Wrong credentials (401), malformed bodies (400 with the field), a push naming no tracking
/// or an unmapped carrier code (400, never guessed: R12), and an oversized body (413): nothing
/// stored. Returns the NF-e-less push, to be sent again once the code is mapped.
async fn refuses_what_it_cannot_apply(
    s: &TestServer,
    conn: &mut PgConnection,
    body: &str,
) -> Value {
    // Wrong or missing credentials: 401, nothing stored.
    for auth in [None, Some((USER, "wrong")), Some(("nobody", PASSWORD))] {
        let (code, _) = post(s, auth, body.to_owned()).await;
        assert_eq!(code, 401, "{auth:?}");
    }
    assert_eq!(count(conn, "tracking_events"), 0);
    assert_eq!(count(conn, "intelipost_nfe_mappings"), 0);

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
        let (code, answer) = post(s, Some((USER, PASSWORD)), bad).await;
        assert_eq!(code, 400, "{says}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer}");
    }
    // A body that names no tracking: 400, saying so.
    let (code, answer) = post(
        s,
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
    let (code, answer) = post(s, Some((USER, PASSWORD)), no_invoice.to_string()).await;
    assert_eq!(code, 400, "{answer}");
    assert_eq!(answer["reason"], "INTELIPOST_PUSH_UNIDENTIFIED", "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("OB123456789BR"),
        "{answer}"
    );
    assert_eq!(count(conn, "tracking_events"), 0);
    // Over the body limit: 413.
    let (code, _) = post(s, Some((USER, PASSWORD)), "x".repeat(100 * 1024)).await;
    assert_eq!(code, 413);
    assert_eq!(count(conn, "tracking_events"), 0);

    no_invoice
}

/// The push: applied once, its mapping stored (R12); redelivered, nothing changes; then the
/// NF-e-less push resolves through the mapping.
async fn applies_a_push_once(
    s: &mut TestServer,
    conn: &mut PgConnection,
    body: &str,
    no_invoice: &Value,
) {
    // The push: 200, the tracking moves, the mapping is stored (R12).
    let (code, answer) = post(s, Some((USER, PASSWORD)), body.to_owned()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let tracking = get_by_key(s, "m-br", "intelipost", "35190").await;
    assert_eq!(tracking.status, pb::TrackingStatus::InTransit as i32);
    let confirmed = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    assert_eq!(tracking.confirmed_fulfillment_at, Some(ts(confirmed)));
    assert_eq!(tracking.checkpoints[0].carrier_status_code, "IN_TRANSIT");
    // Redelivered: 200, no change.
    let (code, answer) = post(s, Some((USER, PASSWORD)), body.to_owned()).await;
    assert_eq!(
        (code, answer["duplicates"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    assert_eq!(count(conn, "tracking_events"), 1);
    assert_eq!(get_by_key(s, "m-br", "intelipost", "35190").await, tracking);

    // Now that Intelipost has mapped the carrier's code, a push without an NF-e is resolved
    // through it (R12) and applies to the NF-e tracking.
    let (code, answer) = post(s, Some((USER, PASSWORD)), no_invoice.to_string()).await;
    assert_eq!(
        (code, answer["accepted"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    let delivered = get_by_key(s, "m-br", "intelipost", "35190").await;
    assert_eq!(delivered.status, pb::TrackingStatus::Delivered as i32);
    assert_eq!(count(conn, "tracking_events"), 2);
}

/// R12: by API the carrier's number is stored as its NF-e number; by hand it is refused.
async fn fulfils_by_the_carriers_number(s: &mut TestServer) {
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
}

/// A disconnected integration's credentials stop working, the password is stored hashed, and
/// another merchant may not take the same user name.
async fn disconnected_credentials_stop_working(
    s: &mut TestServer,
    conn: &mut PgConnection,
    body: String,
) {
    // A disconnected integration's credentials stop working.
    s.tracking
        .set_intelipost_integration(pb::SetIntelipostIntegrationRequest {
            merchant_id: "m-br".into(),
            connected: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let (code, _) = post(s, Some((USER, PASSWORD)), body).await;
    assert_eq!(code, 401);
    // The password is stored hashed, never as given.
    let stored: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT password_hash FROM intelipost_integrations",
    )
    .get_result(conn)
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
}
