//! R5 and R9: late orders refunded with a violation (and a dry run that changes nothing), and
//! one merchant digest a day.

use chrono::Duration;
use fulfillment_orders::input::ReleaseInput;
use fulfillment_orders::release;
use fulfillment_workers::reconcile::{DeadlineEnforcer, MerchantNotifier};

use crate::common::release_input;
use crate::world::{World, at};

#[tokio::test]
async fn r5_late_orders_are_refunded_with_a_violation_and_r9_one_digest_a_day() {
    let now = at(2026, 11, 23, 12, 0);
    let w = World::new(now);
    w.merchant("m-1", "US");
    w.merchant("m-2", "US");
    let mut conn = w.conn();
    let policy = w.policies.at(&mut conn, now).unwrap();
    for (id, released) in [
        ("o-late", now - Duration::days(5) - Duration::minutes(1)),
        ("o-on-time", now - Duration::days(5) + Duration::minutes(1)),
    ] {
        // No customer address of its own: these orders are not A+.
        let input = ReleaseInput {
            customer_shipping_detail: None,
            ..release_input(id, "m-1", released, false, format!("p-{id}"))
        };
        release::release_order(&mut conn, now, &policy, &w.actor, &input).unwrap();
    }
    // A dry run says what it would do and changes nothing.
    let (dry, lines) = w.dry_run::<DeadlineEnforcer>().await;
    assert_eq!(dry.counts["refunded"], 1);
    assert!(
        lines[0].starts_with("order o-late: refund NOT_SHIPPED_IN_TIME"),
        "{lines:?}"
    );
    assert_eq!(w.order("o-late").state, "APPROVED");
    assert_eq!(w.count("SELECT count(*) FROM outbox"), 0);

    let enforced = w.run::<DeadlineEnforcer>().await;
    assert_eq!(enforced.counts["refunded"], 1);
    assert_eq!(
        w.order("o-late").refund_reason.as_deref(),
        Some("NOT_SHIPPED_IN_TIME")
    );
    assert_eq!(w.order("o-on-time").state, "APPROVED");
    assert_eq!(
        w.count("SELECT count(*) FROM merchant_violations WHERE order_id = 'o-late'"),
        1
    );
    assert_eq!(
        w.count("SELECT count(*) FROM product_disable_candidates WHERE product_id = 'p-o-late'"),
        1
    );
    assert_eq!(w.outbox("refund.requested"), ["refund.requested:o-late"]);
    assert_eq!(w.run::<DeadlineEnforcer>().await.claimed, 0);

    // R9: one digest per merchant per day, however often the notifier runs.
    let first = w.run::<MerchantNotifier>().await;
    assert_eq!(
        (first.counts["notified"], first.counts["nothing_to_fulfil"]),
        (1, 1)
    );
    assert_eq!(w.run::<MerchantNotifier>().await.claimed, 0);
    w.clock.set(now + Duration::hours(11));
    assert_eq!(w.run::<MerchantNotifier>().await.claimed, 0);
    assert_eq!(
        w.outbox("merchant.notified"),
        ["merchant.notified:digest:m-1:2026-11-23"]
    );
    w.clock.set(now + Duration::days(1));
    assert_eq!(w.run::<MerchantNotifier>().await.counts["notified"], 1);
    assert_eq!(w.outbox("merchant.notified").len(), 2);
}
