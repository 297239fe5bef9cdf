//! Tracking history (R4) and the merchant's lists: to fulfil, oldest deadline first, and batch get.

use fulfillment_core::repo;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;

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
