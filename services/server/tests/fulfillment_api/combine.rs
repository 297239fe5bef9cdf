//! Combined shipments (R10, R11): the five-day boundary, shared trackings, name and address
//! comparison, Wish Express in the group, concurrent callers.

use chrono::Duration;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;

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
