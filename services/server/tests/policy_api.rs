//! PolicyService over real gRPC: R30 values, EvaluateOrder (R2, R5, R6) and the cancellation
//! what-if (R15-R18) on stored orders.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use diesel::prelude::*;
use fulfillment_core::schema::trackings;
use fulfillment_proto::v1 as pb;
use tonic::Code;

#[tokio::test]
async fn r30_get_policy_returns_the_seeded_values() {
    let mut s = TestServer::start().await;
    let policy = s
        .policy
        .get_policy(pb::GetPolicyRequest::default())
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(policy.version, 1);
    assert_eq!(
        (
            policy.fulfillment_window_days,
            policy.combine_window_days,
            policy.rerelease_window_days,
            policy.rerelease_deadline_days
        ),
        (5, 5, 25, 5)
    );
    assert_eq!(policy.rerelease_countries, ["CN"]);
    assert_eq!(
        policy.rerelease_from.unwrap().seconds,
        Utc.with_ymd_and_hms(2021, 3, 4, 0, 0, 0)
            .unwrap()
            .timestamp()
    );
    assert_eq!(
        policy.confirmed_removal_from.unwrap().seconds,
        Utc.with_ymd_and_hms(2020, 11, 10, 0, 0, 0)
            .unwrap()
            .timestamp()
    );
    let before = s
        .policy
        .get_policy(pb::GetPolicyRequest {
            at: Some(ts(Utc.with_ymd_and_hms(1999, 1, 1, 0, 0, 0).unwrap())),
        })
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::FailedPrecondition);
    s.stop().await;
}

/// Marks the order's tracking as scanned by the carrier (what the tracking ingestion will do).
fn confirm_tracking(s: &TestServer, number: &str, at: chrono::DateTime<Utc>) {
    let mut conn = s.conn();
    diesel::update(trackings::table.filter(trackings::tracking_number.eq(number)))
        .set((
            trackings::status.eq("IN_TRANSIT"),
            trackings::confirmed_fulfillment_at.eq(at),
        ))
        .execute(&mut conn)
        .unwrap();
}

/// EvaluateOrder of m-1's o-1, unwrapped.
async fn evaluate(s: &mut TestServer) -> pb::EvaluateOrderResponse {
    let request = pb::EvaluateOrderRequest {
        merchant_id: "m-1".into(),
        order_id: "o-1".into(),
    };
    s.policy.evaluate_order(request).await.unwrap().into_inner()
}

#[tokio::test]
async fn r6_payment_eligibility_needs_a_confirmed_fulfillment() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", today() - Duration::days(6), alice())
        .await;
    let approved = evaluate(&mut s).await;
    assert!(approved.overdue, "R5: APPROVED past its deadline");
    assert!(!approved.payment_eligible);

    s.orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", "9400111899223334445520"))
        .await
        .unwrap();
    let pending = evaluate(&mut s).await;
    assert!(!pending.overdue && !pending.payment_eligible);
    assert!(
        pending.payment_eligibility_reason.contains("R6"),
        "{}",
        pending.payment_eligibility_reason
    );

    confirm_tracking(&s, "9400111899223334445520", today());
    let confirmed = evaluate(&mut s).await;
    assert!(
        confirmed.payment_eligible,
        "{}",
        confirmed.payment_eligibility_reason
    );
    s.stop().await;
}

async fn shipped_wishpost_order(
    s: &mut TestServer,
    merchant: &str,
    country: &str,
    id: &str,
    number: &str,
    aplus: bool,
) {
    s.merchant(merchant, country).await;
    let mut release = release_request(merchant, id, today() - Duration::days(2), alice());
    if aplus {
        release.is_advanced_logistics = true;
        release.customer_shipping_detail = Some(bob());
    }
    s.orders.release_order(release).await.unwrap();
    s.orders
        .fulfill_order(fulfil(merchant, id, "wishpost", number))
        .await
        .unwrap();
    confirm_tracking(s, number, today() - Duration::days(1));
}

async fn decide(
    s: &mut TestServer,
    merchant: &str,
    id: &str,
    days_after_release: i64,
    by: pb::CancelledBy,
) -> pb::CancellationDecision {
    let cancelled = today() - Duration::days(2) + Duration::days(days_after_release);
    // Decided two days after the cancellation arrived.
    let decided = cancelled + Duration::days(2);
    s.decide(merchant, id, cancelled, by, decided).await
}

#[tokio::test]
async fn r16_cancelled_within_24_days_re_releases_and_from_25_days_refunds() {
    let mut s = TestServer::start().await;
    shipped_wishpost_order(&mut s, "m-cn", "CN", "o-1", "LX100000001CN", false).await;
    let d24 = decide(&mut s, "m-cn", "o-1", 24, pb::CancelledBy::Carrier).await;
    assert_eq!(
        d24.outcome,
        pb::CancellationOutcome::ReRelease as i32,
        "{}",
        d24.explanation
    );
    assert_eq!(
        (d24.days_since_initial_release, d24.threshold_days),
        (24, 25)
    );
    assert!(d24.remove_confirmed_date && d24.set_cancelled_flag);
    assert_eq!(d24.flags, [pb::OrderFlag::TrackingNumberCancelled as i32]);
    assert_eq!(d24.policy_version, 1);
    // R16: the new deadline counts from the re-release the what-if assumes, not the cancellation.
    let re_released = today() - Duration::days(2) + Duration::days(24 + 2);
    assert_eq!(d24.re_released_at, Some(ts(re_released)));
    assert_eq!(d24.new_deadline, Some(ts(re_released + Duration::days(5))));
    let d25 = decide(&mut s, "m-cn", "o-1", 25, pb::CancelledBy::Carrier).await;
    assert_eq!(
        d25.outcome,
        pb::CancellationOutcome::Refund as i32,
        "{}",
        d25.explanation
    );
    s.stop().await;
}

#[tokio::test]
async fn r16_merchants_outside_mainland_china_get_the_flag_only() {
    let mut s = TestServer::start().await;
    shipped_wishpost_order(&mut s, "m-br", "BR", "o-1", "LX100000002CN", false).await;
    let d = decide(&mut s, "m-br", "o-1", 3, pb::CancelledBy::Carrier).await;
    assert_eq!(
        d.outcome,
        pb::CancellationOutcome::FlagOnly as i32,
        "{}",
        d.explanation
    );
    assert!(d.remove_confirmed_date && d.set_cancelled_flag);
    s.stop().await;
}

#[tokio::test]
async fn r18_aplus_leaves_the_program_only_when_the_carrier_cancelled() {
    let mut s = TestServer::start().await;
    shipped_wishpost_order(&mut s, "m-cn", "CN", "o-aplus", "LX100000003CN", true).await;
    let carrier = decide(&mut s, "m-cn", "o-aplus", 3, pb::CancelledBy::Carrier).await;
    assert_eq!(carrier.outcome, pb::CancellationOutcome::ReRelease as i32);
    assert_eq!(
        carrier.flags,
        [pb::OrderFlag::AplusTrackingNumberCancelled as i32]
    );
    assert!(carrier.leave_aplus_program && carrier.reset_shipping_to_customer);
    let merchant = decide(&mut s, "m-cn", "o-aplus", 3, pb::CancelledBy::Merchant).await;
    assert_eq!(
        merchant.flags,
        [pb::OrderFlag::TrackingNumberCancelled as i32]
    );
    assert!(!merchant.leave_aplus_program && !merchant.reset_shipping_to_customer);

    // The order itself keeps the customer's own address for the reset (R18).
    let order = s.get("m-cn", "o-aplus").await;
    assert_eq!(order.customer_shipping_detail.unwrap().name, "Bob Jones");
    assert_eq!(order.shipping_detail.unwrap().name, "Alice Smith");
    s.stop().await;
}
