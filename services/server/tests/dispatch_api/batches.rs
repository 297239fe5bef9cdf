//! A number another merchant uses, and a batch of two hundred with ten refused.

use std::collections::HashSet;

use chrono::Duration as Days;
use diesel::prelude::*;
use fulfillment_core::schema::{order_events, orders, outbox, shipments};
use fulfillment_proto::v1 as pb;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_partial_json, method, path};

use crate::common::{self, release_request, today};
use crate::fakes::*;
use crate::harness::*;

#[tokio::test]
async fn a_tracking_number_another_merchant_uses_fails_the_order_and_keeps_the_carrier_ids() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    h.orders
        .upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: "m-other".into(),
                name: "Other".into(),
                country: "PL".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    h.orders
        .release_order(release_request(
            "m-other",
            "o-other",
            today() - Days::days(1),
            buyer(),
        ))
        .await
        .unwrap();
    h.orders
        .fulfill_order(common::fulfil(
            "m-other",
            "o-other",
            "inpost",
            INPOST_NUMBER,
        ))
        .await
        .unwrap();
    mount_inpost_create(&h.inpost, ShipX::default()).await;

    let results = h.create(request(&account, &["o-1"])).await;
    assert_eq!(results[0].outcome, FAILED, "{results:?}");
    assert_eq!(results[0].reason, "TRACKING_NUMBER_IN_USE");
    assert!(results[0].message.contains("Cancel it with the carrier"));
    assert_eq!(
        h.shipments("o-1"),
        [(
            "FAILED".to_string(),
            Some("49201373".to_string()),
            Some(INPOST_NUMBER.to_string())
        )]
    );
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
}

#[tokio::test]
async fn two_hundred_orders_ship_but_the_ten_the_carrier_refuses_and_nothing_is_half_done() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    let ids: Vec<String> = (0..200).map(|i| format!("o-{i:03}")).collect();
    for id in &ids {
        h.release(id).await;
    }
    let refused: HashSet<String> = (0..10).map(|i| format!("o-{:03}", i * 20 + 7)).collect();
    for id in &refused {
        Mock::given(method("POST"))
            .and(path(INPOST_CREATE))
            .and(body_partial_json(json!({"reference": id})))
            .respond_with(json_answer(422, fixture("inpost/validation_failed.json")))
            .with_priority(1)
            .expect(1)
            .mount(&h.inpost)
            .await;
    }
    mount_inpost_create(&h.inpost, ShipX::default()).await;

    let mut req = request(&account, &[]);
    req.order_ids = ids.clone();
    let results = h.create(req).await;
    assert_eq!(results.len(), 200);
    let answered: Vec<&str> = results.iter().map(|r| r.order_id.as_str()).collect();
    assert_eq!(answered, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for r in &results {
        if refused.contains(&r.order_id) {
            assert_eq!(r.outcome, FAILED, "{r:?}");
            assert_eq!(r.reason, "CARRIER_VALIDATION_FAILED");
            assert!(r.message.contains("receiver.phone"), "{r:?}");
        } else {
            assert_eq!(r.outcome, CREATED, "{r:?}");
        }
    }
    assert_eq!(inpost_posts(&h.inpost).await, 200);

    let mut conn = h.conn();
    let by_state: Vec<(String, i64)> = shipments::table
        .group_by(shipments::state)
        .select((shipments::state, diesel::dsl::count_star()))
        .order(shipments::state)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        by_state,
        [("CREATED".to_string(), 190), ("FAILED".to_string(), 10)]
    );
    let shipped: i64 = orders::table
        .filter(orders::state.eq("SHIPPED"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(shipped, 190);
    // Each shipped order exactly one audit row and one customer notification; the refused none.
    let audited: Vec<(String, i64)> = order_events::table
        .filter(order_events::kind.eq("shipped"))
        .group_by(order_events::order_id)
        .select((order_events::order_id, diesel::dsl::count_star()))
        .load(&mut conn)
        .unwrap();
    assert_eq!(audited.len(), 190);
    assert!(
        audited
            .iter()
            .all(|(id, n)| *n == 1 && !refused.contains(id))
    );
    let notified: i64 = outbox::table
        .filter(outbox::event_type.eq("customer.notified"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(notified, 190);
}
