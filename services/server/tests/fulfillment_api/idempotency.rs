//! Idempotency keys: the first answer replayed, a different request refused, expiry and the purge.

use chrono::Duration;
use diesel::prelude::*;
use fulfillment_core::repo;
use fulfillment_proto::v1 as pb;
use tonic::{Code, Request};

use crate::common::*;

/// FulfillOrder sent with `idempotency-key: key`, as a client retrying it would.
async fn fulfil_keyed(
    s: &mut TestServer,
    request: pb::FulfillOrderRequest,
    key: &str,
) -> Result<pb::FulfillOrderResponse, tonic::Status> {
    let mut keyed = Request::new(request);
    keyed
        .metadata_mut()
        .insert("idempotency-key", key.parse().unwrap());
    s.orders.fulfill_order(keyed).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_a_different_request() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", day(1), alice()).await;
    let request = || fulfil("m-1", "o-1", "usps", "9400111899223334445511");
    let first = fulfil_keyed(&mut s, request(), "k-1").await.unwrap();
    s.clock.advance(Duration::hours(1));
    let replay = fulfil_keyed(&mut s, request(), "k-1").await.unwrap();
    assert_eq!(first, replay);
    let mut conn = s.conn();
    assert_eq!(
        repo::audit::events_for_order(&mut conn, "o-1")
            .unwrap()
            .len(),
        2,
        "shipped once"
    );

    let other = fulfil_keyed(
        &mut s,
        fulfil("m-1", "o-1", "usps", "9400111899223334445512"),
        "k-1",
    )
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
    /// m-1's `order` shipped by USPS as `number`, under `key`; it must succeed.
    async fn keyed(
        s: &mut TestServer,
        order: &str,
        number: &str,
        key: &str,
    ) -> pb::FulfillOrderResponse {
        let request = fulfil("m-1", order, "usps", number);
        fulfil_keyed(s, request, key).await.unwrap()
    }
    // At t0: two keys; 23 hours later: a third.
    for (order, key) in [("o-1", "k-old"), ("o-2", "k-gone")] {
        keyed(&mut s, order, "9400111899223334445511", key).await;
    }
    s.clock.advance(Duration::hours(23));
    let live = keyed(&mut s, "o-3", "9400111899223334445522", "k-live").await;
    s.clock.advance(Duration::hours(2));

    // 25 h after t0: the 2-hour-old key still replays...
    let replay = keyed(&mut s, "o-3", "9400111899223334445522", "k-live").await;
    assert_eq!(replay, live);
    // ...and a 25-hour-old one counts as never seen, before any purge: a new request with it is
    // done, not refused as IDEMPOTENCY_KEY_REUSED.
    let reused = keyed(&mut s, "o-4", "9400111899223334445533", "k-old").await;
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
