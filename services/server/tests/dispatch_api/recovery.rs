//! What goes wrong between us and the carrier: rejected credentials, a lost answer, a
//! shipment not numbered yet, a timeout, two calls at once.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_carriers::dispatch::paczka_w_ruchu;
use fulfillment_core::schema::shipments;
use fulfillment_proto::v1 as pb;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_partial_json, body_string_contains, method, path};

use crate::fakes::*;
use crate::harness::*;

#[tokio::test]
async fn rejected_paczka_w_ruchu_credentials_say_they_must_be_fixed_and_the_order_stays_approved() {
    let mut h = Harness::start().await;
    let account = h.ruch_account().await;
    h.release("o-1").await;
    soap(paczka_w_ruchu::soap_action("GenerateLabelBusinessPack"))
        .and(body_string_contains(format!(
            "<PartnerKey>{PWR_KEY}</PartnerKey>"
        )))
        .respond_with(xml(fixture("paczka_w_ruchu/credentials_rejected.xml")))
        .expect(1)
        .mount(&h.ruch)
        .await;
    let mut req = request(&account, &["o-1"]);
    req.target_points = [("o-1".to_string(), "KR-116263".to_string())].into();
    req.sender = Some(sender());

    let results = h.create(req).await;
    let r = &results[0];
    assert_eq!(r.outcome, FAILED, "{r:?}");
    assert_eq!(r.reason, "CARRIER_CREDENTIALS_REJECTED");
    assert!(r.message.contains("must fix them"), "{}", r.message);
    assert!(r.message.contains(&account), "{}", r.message);
    assert!(!format!("{r:?}").contains(PWR_KEY));
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
    let shipments = h.shipments("o-1");
    assert_eq!(shipments.len(), 1);
    assert_eq!(shipments[0].0, "FAILED");
    assert_eq!(h.events("o-1", "shipped"), 0);
}

#[tokio::test]
async fn a_carrier_success_our_database_then_loses_is_applied_on_retry_without_a_second_call() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(json_answer(201, fixture("inpost/shipment_confirmed.json")))
        .expect(1)
        .mount(&h.inpost)
        .await;
    // Our transaction fails after the carrier answered: the audit row cannot be written.
    h.conn()
        .batch_execute(
            "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: the database failed'; END $$; \
             CREATE TRIGGER injected_failure BEFORE INSERT ON order_events \
             FOR EACH ROW EXECUTE FUNCTION injected_failure();",
        )
        .unwrap();

    let failed = h.create(request(&account, &["o-1"])).await;
    assert_eq!(failed[0].outcome, FAILED, "{failed:?}");
    assert_eq!(failed[0].reason, "SHIPMENT_NOT_APPLIED");
    assert_eq!(failed[0].carrier_shipment_id, "49201373");
    assert!(failed[0].message.contains("not called again"), "{failed:?}");
    assert_eq!(h.order("o-1").await.state, pb::OrderState::Approved as i32);
    // The carrier's answer is kept with the attempt.
    assert_eq!(
        h.shipments("o-1"),
        [(
            "REQUESTED".to_string(),
            Some("49201373".to_string()),
            Some(INPOST_NUMBER.to_string())
        )]
    );

    h.conn()
        .batch_execute("DROP TRIGGER injected_failure ON order_events;")
        .unwrap();
    let retried = h.create(request(&account, &["o-1"])).await;
    assert_eq!(retried[0].outcome, CREATED, "{retried:?}");
    assert_eq!(retried[0].shipment_id, failed[0].shipment_id);
    assert_eq!(retried[0].tracking_number, INPOST_NUMBER);
    let order = h.order("o-1").await;
    assert_eq!(order.state, pb::OrderState::Shipped as i32);
    assert_eq!(order.tracking.unwrap().tracking_number, INPOST_NUMBER);
    assert_eq!(h.events("o-1", "shipped"), 1);
    // `expect(1)`, checked when the fake stops, and here.
    assert_eq!(inpost_posts(&h.inpost).await, 1);
}

#[tokio::test]
async fn a_shipment_inpost_has_not_numbered_yet_is_picked_up_later_not_bought_twice() {
    let mut h = Harness::start().await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(json_answer(201, fixture("inpost/shipment_created.json")))
        .expect(1)
        .mount(&h.inpost)
        .await;
    // Still buying through both polls of the first call.
    Mock::given(method("GET"))
        .and(path("/v1/shipments/49201373"))
        .respond_with(json_answer(200, fixture("inpost/shipment_created.json")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.inpost)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/shipments/49201373"))
        .respond_with(json_answer(200, fixture("inpost/shipment_confirmed.json")))
        .mount(&h.inpost)
        .await;

    let pending = h.create(request(&account, &["o-1"])).await;
    assert_eq!(pending[0].outcome, FAILED, "{pending:?}");
    assert_eq!(pending[0].reason, "CARRIER_TRACKING_PENDING");
    assert_eq!(pending[0].carrier_shipment_id, "49201373");
    assert_eq!(h.shipments("o-1")[0].0, "REQUESTED");

    let later = h.create(request(&account, &["o-1"])).await;
    assert_eq!(later[0].outcome, CREATED, "{later:?}");
    assert_eq!(later[0].tracking_number, INPOST_NUMBER);
    assert_eq!(inpost_posts(&h.inpost).await, 1);
    assert_eq!(h.shipments("o-1").len(), 1);
}

#[tokio::test]
async fn a_timed_out_send_is_sent_again_with_the_same_reference_on_the_same_attempt() {
    let mut h = Harness::start_with(|c| c.timeout = Duration::from_millis(500)).await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(
            json_answer(201, fixture("inpost/shipment_confirmed.json"))
                .set_delay(Duration::from_millis(1_500)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.inpost)
        .await;
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .and(body_partial_json(json!({"reference": "o-1"})))
        .respond_with(json_answer(201, fixture("inpost/shipment_confirmed.json")))
        .mount(&h.inpost)
        .await;

    let timed_out = h.create(request(&account, &["o-1"])).await;
    assert_eq!(timed_out[0].outcome, FAILED);
    assert_eq!(timed_out[0].reason, "CARRIER_TIMEOUT");
    assert!(timed_out[0].message.contains("same reference"));
    let retried = h.create(request(&account, &["o-1"])).await;
    assert_eq!(retried[0].outcome, CREATED, "{retried:?}");
    assert_eq!(retried[0].shipment_id, timed_out[0].shipment_id);
    let attempts: i32 = shipments::table
        .filter(shipments::order_id.eq("o-1"))
        .select(shipments::attempts)
        .first(&mut h.conn())
        .unwrap();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn two_calls_for_the_same_order_at_once_send_it_to_the_carrier_once() {
    // The carrier's timeout is far longer than the test can take: only the gate ends the call.
    let mut h = Harness::start_with(|c| c.timeout = Duration::from_secs(60)).await;
    let account = h.inpost_account().await;
    h.release("o-1").await;
    let (gate, mut keeper) = Gate::new();
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .respond_with(gate)
        .mount(&h.inpost)
        .await;

    let mut first = h.orders.clone();
    let first_request = request(&account, &["o-1"]);
    let a = tokio::spawn(async move {
        first
            .create_shipments(first_request)
            .await
            .unwrap()
            .into_inner()
            .results
    });
    // The first call is at the carrier: its attempt is recorded and leased.
    tokio::time::timeout(Duration::from_secs(60), keeper.arrived.recv())
        .await
        .expect("the first call reaches the carrier")
        .unwrap();
    let b = h.create(request(&account, &["o-1"])).await;
    keeper.release.send(()).unwrap();
    let a = a.await.unwrap();
    assert_eq!(a[0].outcome, CREATED, "{a:?}");
    assert_eq!(b[0].outcome, FAILED, "{b:?}");
    assert_eq!(b[0].reason, "SHIPMENT_IN_PROGRESS");
    assert_eq!(inpost_posts(&h.inpost).await, 1);
    assert_eq!(h.shipments("o-1").len(), 1);
}
