//! Release, fulfil and get (R1-R3): the roundtrip with its audit and outbox rows, the countdown,
//! release idempotency.

use chrono::Duration;
use fulfillment_core::repo;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;

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
