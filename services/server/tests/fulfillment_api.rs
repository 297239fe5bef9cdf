//! FulfillmentService over real gRPC on a real database: R1-R4, R9-R12, isolation, idempotency.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use chrono::Duration;
use common::*;
use diesel::prelude::*;
use fulfillment_core::repo;
use fulfillment_proto::v1 as pb;
use tonic::{Code, Request};

#[tokio::test]
async fn r3_release_fulfil_get_roundtrip_writes_audit_and_outbox() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    let released = s
        .release_at("m-1", "o-1", today() - Duration::hours(30), alice())
        .await;
    assert_eq!(released.state, pb::OrderState::Approved as i32);
    assert_eq!(released.initial_released_at, released.released_at);

    let shipped = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "WishPost", "  lx-1234 5678 9cn "))
        .await
        .unwrap()
        .into_inner();
    let order = shipped.order.unwrap();
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    let tracking = order.tracking.unwrap();
    assert_eq!(
        tracking.tracking_number, "LX123456789CN",
        "R3: trimmed, no spaces or dashes, upper case"
    );
    assert_eq!(tracking.carrier, "wishpost");
    assert_eq!(tracking.status, pb::TrackingStatus::Pending as i32);
    assert!(!tracking.shipped_late);
    assert!(
        !order.payment_eligible,
        "R6: PENDING tracking is not eligible"
    );

    let got = s.get("m-1", "o-1").await;
    assert_eq!(got.tracking.unwrap().tracking_number, "LX123456789CN");

    let mut conn = s.conn();
    let events = repo::audit::events_for_order(&mut conn, "o-1").unwrap();
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.state_after.as_str()))
        .collect();
    assert_eq!(kinds, [("released", "APPROVED"), ("shipped", "SHIPPED")]);
    assert_eq!(events[1].state_before.as_deref(), Some("APPROVED"));
    assert_eq!(events[1].policy_version, Some(1));
    let outbox = repo::audit::outbox_for_order(&mut conn, "o-1").unwrap();
    assert_eq!(outbox.len(), 1, "R9: the customer is notified once");
    assert_eq!(outbox[0].event_type, "customer.notified");
    assert_eq!(outbox[0].payload["tracking_number"], "LX123456789CN");
    s.stop().await;
}

#[tokio::test]
async fn r2_days_and_hours_to_fulfill_count_down_and_never_go_negative() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    let order = s
        .release_at(
            "m-1",
            "o-1",
            today() - Duration::days(1) - Duration::minutes(30),
            alice(),
        )
        .await;
    // Deadline is released_at + 5 days: 3 days 23 h 30 min from now.
    assert_eq!(order.days_to_fulfill, 3);
    assert_eq!(order.hours_to_fulfill, 95);
    assert_eq!(
        order.fulfillment_deadline.unwrap().seconds,
        (today() + Duration::days(4) - Duration::minutes(30)).timestamp()
    );

    assert!(!order.overdue, "R5: not overdue before the deadline");

    s.clock.advance(Duration::days(10));
    let later = s.get("m-1", "o-1").await;
    assert_eq!((later.days_to_fulfill, later.hours_to_fulfill), (0, 0));
    // R5: the list to fulfil marks it, so the merchant sees a 0 that means "too late".
    let listed = s
        .orders
        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
            merchant_id: "m-1".into(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);
    assert!(
        listed.orders[0].overdue,
        "R5: past its deadline, still APPROVED"
    );
    assert!(later.overdue);

    // R2: still APPROVED after the deadline can be shipped; it is recorded as late.
    let shipped = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445566"))
        .await
        .unwrap()
        .into_inner();
    let shipped = shipped.order.unwrap();
    assert!(shipped.tracking.unwrap().shipped_late);
    assert!(!shipped.overdue, "R5: a shipped order is no longer overdue");
    s.stop().await;
}

#[tokio::test]
async fn r1_release_is_idempotent_on_order_id_and_never_crosses_merchants() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    let first = s
        .orders
        .release_order(release_request("m-1", "o-1", day(1), alice()))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    let again = s
        .orders
        .release_order(release_request("m-1", "o-1", day(2), alice()))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    assert_eq!(
        again.order.unwrap().released_at,
        first.order.unwrap().released_at
    );
    let other = s
        .orders
        .release_order(release_request("m-2", "o-1", day(1), alice()))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
    let unknown = s
        .orders
        .release_order(release_request("m-404", "o-9", day(1), alice()))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test]
async fn r10_example_1_and_2_and_the_five_day_boundary() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    s.release_at("m-1", "a", day(1), alice()).await;
    s.release_at("m-1", "b", day(3), alice()).await;
    s.release_at("m-1", "c", day(7), alice()).await;
    s.release_at("m-1", "d", day(6), alice()).await;

    s.orders
        .fulfill_order(fulfil("m-1", "a", "wishpost", "LX000000001CN"))
        .await
        .unwrap();
    // Example 1: A day 1, B day 3 -> allowed.
    let b = s
        .orders
        .fulfill_order(fulfil("m-1", "b", "wishpost", "LX000000001CN"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.combined_with_order_ids, ["a"]);
    // Example 2: A day 1, C day 7 -> refused, naming the rule and the pair.
    let c = s
        .orders
        .fulfill_order(fulfil("m-1", "c", "wishpost", "LX000000001CN"))
        .await
        .unwrap_err();
    assert_eq!(c.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&c).0, "COMBINED_SHIPMENT_RELEASE_WINDOW");
    assert!(
        c.message().contains("R10") && c.message().contains('6'),
        "{}",
        c.message()
    );
    // Exactly 5 calendar days (day 1 and day 6) -> allowed.
    s.orders
        .fulfill_order(fulfil("m-1", "d", "wishpost", "LX000000001CN"))
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test]
async fn r10_example_3_once_a_and_b_share_a_tracking_c_may_not_use_it() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    s.release_at("m-1", "a", day(1), alice()).await;
    s.release_at("m-1", "b", day(4), alice()).await;
    s.release_at("m-1", "c", day(7), alice()).await;

    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let check = |order_ids: Vec<String>| pb::CheckCombinedShipmentRequest {
        merchant_id: "m-1".into(),
        order_ids,
        ..Default::default()
    };
    assert!(
        s.policy
            .check_combined_shipment(check(ids(&["a", "b"])))
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
    assert!(
        s.policy
            .check_combined_shipment(check(ids(&["b", "c"])))
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
    let abc = s
        .policy
        .check_combined_shipment(check(ids(&["a", "b", "c"])))
        .await
        .unwrap()
        .into_inner();
    assert!(!abc.allowed);
    assert_eq!(abc.violations.len(), 1);
    let mut pair = abc.violations[0].order_ids.clone();
    pair.sort();
    assert_eq!(pair, ["a", "c"]);

    s.orders
        .fulfill_orders(pb::FulfillOrdersRequest {
            merchant_id: "m-1".into(),
            order_ids: ids(&["a", "b"]),
            tracking_number: "LX000000002CN".into(),
            carrier: "wishpost".into(),
            origin_country: "CN".into(),
            channel: 0,
        })
        .await
        .unwrap();
    let c = s
        .orders
        .fulfill_order(fulfil("m-1", "c", "wishpost", "LX000000002CN"))
        .await
        .unwrap_err();
    assert_eq!(c.code(), Code::FailedPrecondition);
    // The check with the existing tracking says the same, and names the orders already on it.
    let with_tracking = s
        .policy
        .check_combined_shipment(pb::CheckCombinedShipmentRequest {
            merchant_id: "m-1".into(),
            order_ids: ids(&["c"]),
            carrier: "wishpost".into(),
            tracking_number: "lx000000002cn".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!with_tracking.allowed);
    let mut existing = with_tracking.existing_order_ids.clone();
    existing.sort();
    assert_eq!(existing, ["a", "b"]);
    s.stop().await;
}

#[tokio::test]
async fn r10_names_and_addresses_compare_ignoring_case_but_not_content() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "a", day(1), alice()).await;
    let mut shouting = alice();
    shouting.name = "ALICE  SMITH".into();
    shouting.street_address1 = "1 MAIN ST".into();
    shouting.phone_number = "+1 555 0199".into();
    s.release_at("m-1", "b", day(2), shouting).await;
    let mut other_zip = alice();
    other_zip.zipcode = "62702".into();
    s.release_at("m-1", "c", day(2), other_zip).await;
    s.release_at("m-1", "d", day(2), bob()).await;

    s.orders
        .fulfill_order(fulfil("m-1", "a", "usps", "9400111899223334445501"))
        .await
        .unwrap();
    s.orders
        .fulfill_order(fulfil("m-1", "b", "usps", "9400111899223334445501"))
        .await
        .unwrap();
    let zip = s
        .orders
        .fulfill_order(fulfil("m-1", "c", "usps", "9400111899223334445501"))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&zip).0, "COMBINED_SHIPMENT_ADDRESS_MISMATCH");
    assert!(zip.message().contains("zipcode"), "{}", zip.message());
    let name = s
        .orders
        .fulfill_order(fulfil("m-1", "d", "usps", "9400111899223334445501"))
        .await
        .unwrap_err();
    assert_eq!(name.code(), Code::FailedPrecondition);
    s.stop().await;
}

#[tokio::test]
async fn r11_wish_express_in_the_group_sets_the_requirement_and_earliest_deadline() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "a", day(2), alice()).await;
    let mut express = release_request("m-1", "b", day(1), alice());
    express.is_wish_express = true;
    s.orders.release_order(express).await.unwrap();
    let out = s
        .orders
        .fulfill_orders(pb::FulfillOrdersRequest {
            merchant_id: "m-1".into(),
            order_ids: vec!["a".into(), "b".into()],
            tracking_number: "9400111899223334445502".into(),
            carrier: "usps".into(),
            origin_country: "CN".into(),
            channel: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.requirement, pb::ShippingRequirement::WishExpress as i32);
    assert_eq!(
        out.deadline.unwrap().seconds,
        (day(1) + Duration::days(5)).timestamp()
    );
    assert_eq!(
        out.orders.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    s.stop().await;
}

#[tokio::test]
async fn r3_a_tracking_number_of_one_merchant_is_refused_for_another() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    s.release_at("m-1", "a", day(1), alice()).await;
    s.release_at("m-2", "b", day(1), alice()).await;
    s.orders
        .fulfill_order(fulfil("m-1", "a", "usps", "9400111899223334445503"))
        .await
        .unwrap();
    let err = s
        .orders
        .fulfill_order(fulfil("m-2", "b", "usps", "9400111899223334445503"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(error_reason(&err).0, "TRACKING_NUMBER_IN_USE");
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_the_right_code_and_names_the_field() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;

    // Every required field missing: each one named.
    let err = s
        .orders
        .fulfill_order(pb::FulfillOrderRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let (_, fields) = error_reason(&err);
    assert!(
        fields.contains(&"merchant_id".to_string()) && fields.contains(&"order_id".to_string()),
        "{fields:?}"
    );

    let empty = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "   "))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(
        error_reason(&empty),
        (
            "TRACKING_NUMBER_REQUIRED".into(),
            vec!["tracking_number".into()]
        )
    );

    let huge = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", &"9".repeat(10_000)))
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&huge).1, ["tracking_number"]);

    let mut bad_country = fulfil("m-1", "o-1", "usps", "9400111899223334445504");
    bad_country.origin_country = "China".into();
    let err = s.orders.fulfill_order(bad_country).await.unwrap_err();
    assert_eq!(error_reason(&err).1, ["origin_country"]);

    let carrier = s
        .orders
        .fulfill_order(fulfil(
            "m-1",
            "o-1",
            "pigeon-post",
            "9400111899223334445504",
        ))
        .await
        .unwrap_err();
    assert_eq!(carrier.code(), Code::InvalidArgument);
    assert!(
        carrier.message().contains("wishpost"),
        "lists known carriers: {}",
        carrier.message()
    );

    let s10 = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "poczta-polska", "RR123456780PL"))
        .await
        .unwrap_err();
    assert_eq!(s10.code(), Code::InvalidArgument, "R3: bad S10 check digit");

    let unknown = s
        .orders
        .fulfill_order(fulfil("m-1", "o-404", "usps", "9400111899223334445504"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    // Another merchant's order looks exactly like a missing one.
    let foreign = s
        .orders
        .fulfill_order(fulfil("m-2", "o-1", "usps", "9400111899223334445504"))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    let foreign_get = s
        .orders
        .get_order(pb::GetOrderRequest {
            merchant_id: "m-2".into(),
            order_id: "o-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(foreign_get.code(), Code::NotFound);

    let mut bad_release = release_request("m-1", "o-2", day(1), alice());
    bad_release.shipping_detail.as_mut().unwrap().country = "XX".into();
    bad_release.released_at = Some(ts(today() + Duration::days(2)));
    let err = s.orders.release_order(bad_release).await.unwrap_err();
    let (_, fields) = error_reason(&err);
    assert!(
        fields.contains(&"shipping_detail.country".into())
            && fields.contains(&"released_at".into()),
        "{fields:?}"
    );

    // Nothing was written by any refused call.
    let mut conn = s.conn();
    let events = repo::audit::events_for_order(&mut conn, "o-1").unwrap();
    assert_eq!(events.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn r3_a_refunded_or_shipped_order_cannot_be_fulfilled_again() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;
    s.release_at("m-1", "o-2", day(1), bob()).await;
    {
        use fulfillment_core::schema::orders;
        let mut conn = s.conn();
        diesel::update(orders::table.find("o-2"))
            .set((
                orders::state.eq("REFUNDED"),
                orders::refund_reason.eq("NOT_SHIPPED_IN_TIME"),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    s.orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445505"))
        .await
        .unwrap();
    let again = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445506"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("R3"), "{}", again.message());
    let refunded = s
        .orders
        .fulfill_order(fulfil("m-1", "o-2", "usps", "9400111899223334445507"))
        .await
        .unwrap_err();
    assert_eq!(refunded.code(), Code::FailedPrecondition);
    assert!(
        refunded.message().contains("REFUNDED"),
        "{}",
        refunded.message()
    );
    s.stop().await;
}

#[tokio::test]
async fn r12_intelipost_by_hand_takes_only_the_nfe_number() {
    let mut s = TestServer::start().await;
    s.merchant("m-br", "BR").await;
    s.release_at("m-br", "o-1", day(1), alice()).await;
    let mut by_hand = fulfil("m-br", "o-1", "intelipost", "OB123456789BR");
    by_hand.channel = pb::Channel::Dashboard as i32;
    let err = s.orders.fulfill_order(by_hand.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&err).0, "INTELIPOST_NFE_REQUIRED");
    by_hand.tracking_number = "000123456".into();
    let ok = s.orders.fulfill_order(by_hand).await.unwrap().into_inner();
    assert_eq!(
        ok.order.unwrap().tracking.unwrap().tracking_number,
        "000123456"
    );
    s.stop().await;
}

#[tokio::test]
async fn r4_modify_tracking_keeps_the_previous_one_in_history() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;
    let modify = pb::ModifyTrackingRequest {
        merchant_id: "m-1".into(),
        order_id: "o-1".into(),
        tracking_number: "9400111899223334445509".into(),
        carrier: "usps".into(),
        origin_country: "CN".into(),
        channel: 0,
    };
    let not_shipped = s.orders.modify_tracking(modify.clone()).await.unwrap_err();
    assert_eq!(not_shipped.code(), Code::FailedPrecondition);
    assert!(
        not_shipped.message().contains("R4"),
        "{}",
        not_shipped.message()
    );

    s.orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445508"))
        .await
        .unwrap();
    let mut no_number = modify.clone();
    no_number.tracking_number.clear();
    assert_eq!(
        s.orders
            .modify_tracking(no_number)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );

    let out = s.orders.modify_tracking(modify).await.unwrap().into_inner();
    assert_eq!(
        out.previous_tracking.unwrap().tracking_number,
        "9400111899223334445508"
    );
    let order = out.order.unwrap();
    assert_eq!(
        order.tracking.unwrap().tracking_number,
        "9400111899223334445509"
    );
    assert_eq!(order.tracking_history.len(), 1);
    assert_eq!(
        order.tracking_history[0].tracking_number,
        "9400111899223334445508"
    );
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    let mut conn = s.conn();
    assert_eq!(
        repo::audit::outbox_for_order(&mut conn, "o-1")
            .unwrap()
            .len(),
        2,
        "R9: customer told the new number"
    );
    s.stop().await;
}

#[tokio::test]
async fn list_to_fulfill_pages_oldest_deadline_first_and_batch_get_lists_missing() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    for (id, d) in [("o-3", 3), ("o-1", 1), ("o-5", 5), ("o-2", 2), ("o-4", 4)] {
        s.release_at("m-1", id, day(d), alice()).await;
    }
    s.release_at("m-2", "x-1", day(1), alice()).await;
    s.orders
        .fulfill_order(fulfil("m-1", "o-2", "usps", "9400111899223334445510"))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = s
            .orders
            .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                merchant_id: "m-1".into(),
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        seen.extend(page.orders.into_iter().map(|o| o.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["o-1", "o-3", "o-4", "o-5"]);
    assert_eq!(pages, 2);

    let bad = s
        .orders
        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
            merchant_id: "m-1".into(),
            page_size: 10_000,
            page_token: "garbage".into(),
        })
        .await
        .unwrap_err();
    let (_, fields) = error_reason(&bad);
    assert_eq!(fields, ["page_size", "page_token"]);

    let batch = s
        .orders
        .batch_get_orders(pb::BatchGetOrdersRequest {
            merchant_id: "m-1".into(),
            order_ids: vec!["o-5".into(), "nope".into(), "x-1".into(), "o-1".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        batch
            .orders
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        ["o-5", "o-1"]
    );
    assert_eq!(batch.missing_order_ids, ["nope", "x-1"]);
    s.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_a_different_request() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;
    let keyed = |req: pb::FulfillOrderRequest, key: &str| {
        let mut r = Request::new(req);
        r.metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
        r
    };
    let first = s
        .orders
        .fulfill_order(keyed(
            fulfil("m-1", "o-1", "usps", "9400111899223334445511"),
            "k-1",
        ))
        .await
        .unwrap()
        .into_inner();
    s.clock.advance(Duration::hours(1));
    let replay = s
        .orders
        .fulfill_order(keyed(
            fulfil("m-1", "o-1", "usps", "9400111899223334445511"),
            "k-1",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, replay);
    let mut conn = s.conn();
    assert_eq!(
        repo::audit::events_for_order(&mut conn, "o-1")
            .unwrap()
            .len(),
        2,
        "shipped once"
    );

    let other = s
        .orders
        .fulfill_order(keyed(
            fulfil("m-1", "o-1", "usps", "9400111899223334445512"),
            "k-1",
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&other).0, "IDEMPOTENCY_KEY_REUSED");
    // Without a key, a repeat is a new request: the order is already shipped.
    let unkeyed = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445511"))
        .await
        .unwrap_err();
    assert_eq!(unkeyed.code(), Code::FailedPrecondition);
    s.stop().await;
}

#[tokio::test]
async fn idempotency_keys_expire_after_the_retention_and_the_purge_skips_locked_ones() {
    use diesel::connection::SimpleConnection;
    use fulfillment_core::repo::idempotency;
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    for id in ["o-1", "o-2", "o-3", "o-4"] {
        s.release_at("m-1", id, today() - Duration::hours(1), alice())
            .await;
    }
    let keyed = |order: &str, number: &str, key: &str| {
        let mut r = Request::new(fulfil("m-1", order, "usps", number));
        r.metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
        r
    };
    // At t0: two keys; 23 hours later: a third.
    for (order, key) in [("o-1", "k-old"), ("o-2", "k-gone")] {
        s.orders
            .fulfill_order(keyed(order, "9400111899223334445511", key))
            .await
            .unwrap();
    }
    s.clock.advance(Duration::hours(23));
    let live = s
        .orders
        .fulfill_order(keyed("o-3", "9400111899223334445522", "k-live"))
        .await
        .unwrap()
        .into_inner();
    s.clock.advance(Duration::hours(2));

    // 25 h after t0: the 2-hour-old key still replays...
    let replay = s
        .orders
        .fulfill_order(keyed("o-3", "9400111899223334445522", "k-live"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replay, live);
    // ...and a 25-hour-old one counts as never seen, before any purge: a new request with it is
    // done, not refused as IDEMPOTENCY_KEY_REUSED.
    let reused = s
        .orders
        .fulfill_order(keyed("o-4", "9400111899223334445533", "k-old"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reused.order.unwrap().id, "o-4");

    // The purge removes only what expired, in batches (of 1 here), skipping a key a call holds.
    let retention = fulfillment_server::idempotency_purge::Retention::default();
    let expired_before = retention.expired_before(fulfillment_core::Clock::now(&*s.clock));
    let mut holder = s.conn();
    holder
        .batch_execute("BEGIN; SELECT 1 FROM idempotency_keys WHERE key = 'k-gone' FOR UPDATE")
        .unwrap();
    let mut conn = s.conn();
    let purged = idempotency::purge_expired(&mut conn, expired_before, 1).unwrap();
    assert_eq!(
        purged, 0,
        "the only expired key is locked: skipped, not waited for"
    );
    holder.batch_execute("ROLLBACK").unwrap();
    let purged = idempotency::purge_expired(&mut conn, expired_before, 1).unwrap();
    assert_eq!(purged, 1);
    let keys: Vec<String> = fulfillment_core::schema::idempotency_keys::table
        .select(fulfillment_core::schema::idempotency_keys::key)
        .order(fulfillment_core::schema::idempotency_keys::key)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        keys,
        ["k-live", "k-old"],
        "k-old was taken over 25 h in, so it is fresh"
    );
    s.stop().await;
}

#[tokio::test]
async fn r10_concurrent_callers_cannot_both_join_an_incompatible_shipment() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "a", day(1), alice()).await;
    s.release_at("m-1", "c", day(7), alice()).await;
    let (mut c1, mut c2) = (s.orders.clone(), s.orders.clone());
    let (r1, r2) = tokio::join!(
        c1.fulfill_order(fulfil("m-1", "a", "usps", "9400111899223334445513")),
        c2.fulfill_order(fulfil("m-1", "c", "usps", "9400111899223334445513")),
    );
    assert_eq!(
        u8::from(r1.is_ok()) + u8::from(r2.is_ok()),
        1,
        "exactly one of two orders 6 days apart may take the tracking: {r1:?} {r2:?}"
    );
    s.stop().await;
}
