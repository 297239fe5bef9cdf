//! R20: a second shipment only when confirmed; a retried call answers what it created.

use fulfillment_proto::v1 as pb;

use crate::common::{self};
use crate::fakes::*;
use crate::harness::*;

#[tokio::test]
async fn a_second_shipment_needs_confirmation_and_then_replaces_the_tracking() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    let shipx = ShipX::default();
    mount_inpost_create(&h.inpost, shipx.clone()).await;

    let first = h.create(request(&account, &["o-1"])).await;
    assert_eq!(first[0].outcome, CREATED, "{first:?}");
    assert_eq!(first[0].tracking_number, INPOST_NUMBER);

    // R20: again without confirmation: skipped, nothing sent.
    let again = h.create(request(&account, &["o-1"])).await;
    assert_eq!(again[0].outcome, SKIPPED, "{again:?}");
    assert_eq!(again[0].reason, "SHIPMENT_EXISTS");
    assert_eq!(again[0].tracking_number, INPOST_NUMBER);
    assert!(again[0].message.contains("confirm_recreate"), "{again:?}");
    assert_eq!(inpost_posts(&h.inpost).await, 1);

    // Confirmed: a new shipment, whose number replaces the old one (R4 history kept).
    let mut confirmed = request(&account, &["o-1"]);
    confirmed.confirm_recreate = true;
    let recreated = h.create(confirmed).await;
    assert_eq!(recreated[0].outcome, CREATED, "{recreated:?}");
    let (_, second_number) = ShipX::number(1);
    assert_eq!(recreated[0].tracking_number, second_number);
    assert_eq!(inpost_posts(&h.inpost).await, 2);
    let order = h.order("o-1").await;
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    assert_eq!(order.tracking.unwrap().tracking_number, second_number);
    let states: Vec<String> = h.shipments("o-1").into_iter().map(|s| s.0).collect();
    assert_eq!(states, ["SUPERSEDED", "CREATED"]);
    assert_eq!(h.events("o-1", "shipped"), 1);
    assert_eq!(h.events("o-1", "tracking_modified"), 1);

    // An order marked shipped by hand is skipped too, unless confirmed.
    h.release("o-2").await;
    h.orders
        .fulfill_order(common::fulfil(MERCHANT, "o-2", "inpost", &"7".repeat(24)))
        .await
        .unwrap();
    let by_hand = h.create(request(&account, &["o-2"])).await;
    assert_eq!(by_hand[0].outcome, SKIPPED);
    assert_eq!(by_hand[0].reason, "ORDER_ALREADY_SHIPPED");
    assert_eq!(inpost_posts(&h.inpost).await, 2);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_answers_with_what_it_created() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    mount_inpost_create(&h.inpost, ShipX::default()).await;
    let call = |key: &str, confirm: bool| {
        let mut req = tonic::Request::new(pb::CreateShipmentsRequest {
            confirm_recreate: confirm,
            ..request(&account, &["o-1"])
        });
        req.metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
        req
    };

    let first = h.orders.create_shipments(call("k-1", false)).await.unwrap();
    let first = first.into_inner().results.remove(0);
    assert_eq!(first.outcome, CREATED);
    let replay = h.orders.create_shipments(call("k-1", false)).await.unwrap();
    assert_eq!(replay.into_inner().results[0], first);

    // A confirmed re-creation retried with its key does not create a third shipment.
    let second = h.orders.create_shipments(call("k-2", true)).await.unwrap();
    let second = second.into_inner().results.remove(0);
    assert_eq!(second.outcome, CREATED);
    assert_ne!(second.tracking_number, first.tracking_number);
    let replay = h.orders.create_shipments(call("k-2", true)).await.unwrap();
    assert_eq!(replay.into_inner().results[0], second);
    assert_eq!(inpost_posts(&h.inpost).await, 2);
    assert_eq!(h.shipments("o-1").len(), 2);
}
