//! R15 and R16: the cancellation detector and the re-release decider at the seeds' boundaries
//! (R15's 2020-11-10, R16's 25 calendar days).

use chrono::{DateTime, Duration, Utc};
use fulfillment_core::{Clock, repo};
use fulfillment_orders::ship::ship;
use fulfillment_tracking::tracking::CancelledBy;
use fulfillment_workers::reconcile::{CancellationDetector, ReReleaseDecider};

use crate::common::ship_request;
use crate::world::{Cancellation, World, at, number};

#[tokio::test]
async fn r16_re_release_under_25_calendar_days_refund_from_25() {
    let released = at(2026, 10, 1, 10, 0);
    let w = World::new(at(2026, 10, 27, 12, 0));
    w.merchant("m-cn", "CN");
    // 24 days 23 hours after the release, on the 24th calendar day: re-release.
    let early = Cancellation::new(released, at(2026, 10, 25, 9, 0), CancelledBy::Carrier);
    w.shipped_then_cancelled("m-cn", "o-early", early);
    // Less than 25 x 24 hours, but on the 25th calendar day: refund.
    let late = Cancellation {
        cancelled: at(2026, 10, 26, 8, 0),
        ..early
    };
    w.shipped_then_cancelled("m-cn", "o-late", late);
    r16_detected(&w).await;
    r16_decided(&w, released).await;
    r16_audited(&w);

    // Run again: nothing left to do.
    assert_eq!(w.run::<CancellationDetector>().await.claimed, 0);
    assert_eq!(w.run::<ReReleaseDecider>().await.claimed, 0);
    // The cancelled number is refused for the re-released order (R16).
    let now = w.clock.now();
    let mut conn = w.conn();
    let policy = w.policies.at(&mut conn, now).unwrap();
    let err = ship(
        &mut conn,
        now,
        &policy,
        &w.actor,
        &ship_request("m-cn", "o-early", "wishpost", &number("o-early")),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "TRACKING_NUMBER_CANCELLED");
}

/// R15: both flagged with the cancellation's date, confirmed date gone, still SHIPPED.
async fn r16_detected(w: &World) {
    let detected = w.run::<CancellationDetector>().await;
    assert_eq!(
        (
            detected.claimed,
            detected.counts["flagged"],
            detected.counts["confirmed_removed"]
        ),
        (2, 2, 2)
    );
    let early = w.order("o-early");
    assert!(early.tracking_number_cancelled);
    assert_eq!(
        early.tracking_number_cancelled_date,
        Some(at(2026, 10, 25, 9, 0))
    );
    assert_eq!(early.state, "SHIPPED");
}

/// R16: the early one re-released now (R1's first release kept), the late one refunded.
async fn r16_decided(w: &World, released: DateTime<Utc>) {
    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!(
        (decided.counts["re_release"], decided.counts["refund"]),
        (1, 1)
    );
    let now = w.clock.now();
    let early = w.order("o-early");
    assert_eq!(early.state, "APPROVED");
    assert!(early.is_re_released);
    assert_eq!(early.order_re_released_date, Some(now));
    assert_eq!(early.released_at, now);
    assert_eq!(
        early.initial_released_at, released,
        "R1: the first release is kept"
    );
    assert_eq!(early.fulfillment_deadline, now + Duration::days(5));
    assert_eq!(early.flags, ["TRACKING_NUMBER_CANCELLED"]);
    let late = w.order("o-late");
    assert_eq!(
        (late.state.as_str(), late.refund_reason.as_deref()),
        ("REFUNDED", Some("TRACKING_CANCELLED_LATE"))
    );
}

/// One audit row per decision, with its inputs; outbox rows for the other systems.
fn r16_audited(w: &World) {
    assert_eq!(
        w.events("o-early"),
        ["released", "shipped", "tracking_cancelled", "re_released"]
    );
    assert_eq!(
        w.events("o-late"),
        ["released", "shipped", "tracking_cancelled", "refunded"]
    );
    let decision = repo::audit::events_for_order(&mut w.conn(), "o-late")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(decision.details["days_since_initial_release"], 25);
    assert_eq!(decision.details["threshold_days"], 25);
    assert_eq!(decision.actor, "worker:re-release-decider");
    assert_eq!(decision.policy_version, Some(1));
    assert_eq!(w.outbox("order.re_released").len(), 1);
    assert_eq!(w.outbox("refund.requested"), ["refund.requested:o-late"]);
}

#[tokio::test]
async fn r15_released_just_before_2020_11_10_keeps_its_confirmed_date() {
    let w = World::new(at(2020, 11, 25, 12, 0));
    w.merchant("m-cn", "CN");
    let cancelled = at(2020, 11, 20, 0, 0);
    let before = Cancellation::new(at(2020, 11, 9, 23, 59), cancelled, CancelledBy::Carrier);
    w.shipped_then_cancelled("m-cn", "o-before", before);
    let on = Cancellation {
        released: at(2020, 11, 10, 0, 0),
        ..before
    };
    w.shipped_then_cancelled("m-cn", "o-on", on);
    // Never scanned: no confirmed date to remove, so R15 does not apply.
    w.shipped_then_cancelled("m-cn", "o-unscanned", on.unscanned());
    let detected = w.run::<CancellationDetector>().await;
    assert_eq!(
        (
            detected.counts["flagged"],
            detected.counts["not_applicable"]
        ),
        (1, 2)
    );
    assert!(!w.order("o-before").tracking_number_cancelled);
    assert!(w.order("o-on").tracking_number_cancelled);
    let removed = |id: &str| {
        w.count(&format!(
            "SELECT count(*) FROM order_trackings WHERE order_id = '{id}' AND confirmed_removed_at IS NOT NULL"
        ))
    };
    assert_eq!((removed("o-before"), removed("o-on")), (0, 1));
    // Before re-release started (2021-03-04): flag only, the merchant repairs the order (R4).
    let decided = w.run::<ReReleaseDecider>().await;
    assert_eq!((decided.claimed, decided.counts["flag_only"]), (1, 1));
    assert_eq!(w.order("o-on").state, "SHIPPED");
    assert_eq!(
        w.events("o-before"),
        ["released", "shipped", "tracking_cancelled_not_applicable"]
    );
    assert_eq!(
        w.events("o-on"),
        [
            "released",
            "shipped",
            "tracking_cancelled",
            "cancellation_flag_only"
        ]
    );
}
