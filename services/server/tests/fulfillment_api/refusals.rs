//! What is refused and how (R3, R12): another merchant's number, bad input with the field named,
//! orders already refunded or shipped, Intelipost by hand.

use chrono::Duration;
use diesel::prelude::*;
use fulfillment_core::repo;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;

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

/// FulfillOrder's bad input: InvalidArgument, with the fields (or the known carriers) named.
async fn fulfil_input_refused(s: &mut TestServer) {
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
}

/// An unknown order and another merchant's look exactly alike: NotFound.
async fn missing_and_foreign_orders_not_found(s: &mut TestServer) {
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
}

#[tokio::test]
async fn bad_input_gets_the_right_code_and_names_the_field() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;

    fulfil_input_refused(&mut s).await;
    missing_and_foreign_orders_not_found(&mut s).await;

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
