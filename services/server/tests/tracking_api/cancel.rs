//! Cancellation with who cancelled (R15, R18, R21), and another merchant's tracking not found.

use chrono::Duration;
use fulfillment_proto::v1 as pb;
use tonic::Code;

use crate::common::*;
use crate::{event, get_by_key, shipped};

#[tokio::test]
async fn r15_r18_cancel_tracking_records_who_cancelled_once() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    shipped(&mut s, "m-1", "o-1", "wishpost", "WP1234567890").await;
    let cancel = |by: pb::CancelledBy| pb::CancelTrackingRequest {
        key: Some(pb::TrackingKey {
            carrier: "wishpost".into(),
            tracking_number: "wp1234567890".into(),
        }),
        cancelled_by: by as i32,
        cancelled_at: None,
    };
    let first = s
        .tracking
        .cancel_tracking(cancel(pb::CancelledBy::Merchant))
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(first.status, pb::TrackingStatus::Cancelled as i32);
    assert_eq!(first.cancelled_by, pb::CancelledBy::Merchant as i32);
    assert_eq!(first.cancelled_at, Some(ts(today())));
    // A second cancellation (even saying carrier) changes nothing: the first said who.
    s.clock.advance(Duration::hours(1));
    let second = s
        .tracking
        .cancel_tracking(cancel(pb::CancelledBy::Carrier))
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(second, first);
    // By order too; and the cancelled number is refused for a new shipment of this merchant.
    let by_order = s
        .tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: "m-1".into(),
            lookup: Some(pb::get_tracking_request::Lookup::OrderId("o-1".into())),
        })
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap();
    assert_eq!(by_order, first);
    let err = s
        .tracking
        .cancel_tracking(pb::CancelTrackingRequest {
            cancelled_by: pb::CancelledBy::Unspecified as i32,
            ..cancel(pb::CancelledBy::Merchant)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&err).1, ["cancelled_by"]);
    let unknown = s
        .tracking
        .cancel_tracking(pb::CancelTrackingRequest {
            key: Some(pb::TrackingKey {
                carrier: "wishpost".into(),
                tracking_number: "WP0000000000".into(),
            }),
            ..cancel(pb::CancelledBy::Merchant)
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    s.stop().await;
}

#[tokio::test]
async fn r21_a_carrier_cancelled_status_marks_the_tracking_cancelled_by_the_carrier() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "CN").await;
    shipped(&mut s, "m-1", "o-1", "inpost", "602677439331630337653846").await;
    let n = "602677439331630337653846";
    let ev = |id: &str, h: i64, code: &str| pb::TrackingEvent {
        carrier: "inpost".into(),
        ..event(n, id, today() + Duration::hours(h), code)
    };
    s.tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![ev("1", 1, "collected_from_sender"), ev("2", 9, "canceled")],
        })
        .await
        .unwrap();
    let t = get_by_key(&mut s, "m-1", "inpost", n).await;
    assert_eq!(t.status, pb::TrackingStatus::Cancelled as i32);
    assert_eq!(t.cancelled_by, pb::CancelledBy::Carrier as i32);
    assert_eq!(t.cancelled_at, Some(ts(today() + Duration::hours(9))));
    // The confirmed time of the earlier scan stays on the tracking (R15 removes it per order).
    assert_eq!(
        t.confirmed_fulfillment_at,
        Some(ts(today() + Duration::hours(1)))
    );
    s.stop().await;
}

#[tokio::test]
async fn get_tracking_of_another_merchant_is_not_found() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    s.merchant("m-2", "US").await;
    shipped(&mut s, "m-1", "o-1", "usps", "9400111899223344556677").await;
    for lookup in [
        pb::get_tracking_request::Lookup::Key(pb::TrackingKey {
            carrier: "usps".into(),
            tracking_number: "9400111899223344556677".into(),
        }),
        pb::get_tracking_request::Lookup::OrderId("o-1".into()),
    ] {
        let err = s
            .tracking
            .get_tracking(pb::GetTrackingRequest {
                merchant_id: "m-2".into(),
                lookup: Some(lookup.clone()),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{lookup:?}");
        let own = s
            .tracking
            .get_tracking(pb::GetTrackingRequest {
                merchant_id: "m-1".into(),
                lookup: Some(lookup),
            })
            .await
            .unwrap();
        assert_eq!(own.into_inner().tracking.unwrap().order_ids, ["o-1"]);
    }
    let none = s
        .tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: "m-1".into(),
            lookup: None,
        })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::InvalidArgument);
    s.stop().await;
}
