//! Issue 22: every merchant-scoped read or list of a merchant that does not exist answers
//! NOT_FOUND naming the merchant (AIP-132: a missing parent), never a silent empty answer; a
//! merchant that exists but has nothing still gets an empty answer.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::*;
use fulfillment_proto::v1 as pb;
use tonic::Code;

const MISSPELT: &str = "m-shenzen";

#[track_caller]
fn assert_unknown_merchant<T: std::fmt::Debug>(rpc: &str, result: Result<T, tonic::Status>) {
    let status = result.expect_err(&format!("{rpc} of an unknown merchant must fail"));
    assert_eq!(status.code(), Code::NotFound, "{rpc}: {status:?}");
    assert!(
        status.message().contains("merchant") && status.message().contains(MISSPELT),
        "{rpc} names the merchant: {:?}",
        status.message()
    );
    assert_eq!(
        error_reason(&status).0,
        "NOT_FOUND",
        "{rpc}: ErrorInfo reason"
    );
}

/// One RPC's call for the unknown merchant, as its name and its answer to come.
type Call = (
    &'static str,
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), tonic::Status>>>>,
);

/// A streamed answer's first message, or the status that refused it.
async fn first_message<T>(
    answer: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Result<(), tonic::Status> {
    answer?.into_inner().message().await.map(drop)
}

/// The order reads and lists, for the unknown merchant.
fn order_reads(s: &TestServer) -> Vec<Call> {
    let o = |id: &str| vec![id.to_string()];
    let c = || s.orders.clone();
    let (mut a, mut b, mut d, mut e) = (c(), c(), c(), c());
    vec![
        (
            "ListOrdersToFulfill",
            Box::pin(async move {
                a.list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                    merchant_id: MISSPELT.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
            }),
        ),
        (
            "GetOrder",
            Box::pin(async move {
                b.get_order(pb::GetOrderRequest {
                    merchant_id: MISSPELT.into(),
                    order_id: "o-1".into(),
                })
                .await
                .map(drop)
            }),
        ),
        (
            "BatchGetOrders",
            Box::pin(async move {
                d.batch_get_orders(pb::BatchGetOrdersRequest {
                    merchant_id: MISSPELT.into(),
                    order_ids: o("o-1"),
                })
                .await
                .map(drop)
            }),
        ),
        (
            "ExportOrders",
            Box::pin(async move {
                first_message(
                    e.export_orders(pb::ExportOrdersRequest {
                        merchant_id: MISSPELT.into(),
                        ..Default::default()
                    })
                    .await,
                )
                .await
            }),
        ),
    ]
}

/// The bulk jobs' and carrier accounts' reads, for the unknown merchant.
fn bulk_and_account_reads(s: &TestServer) -> Vec<Call> {
    let c = || s.orders.clone();
    let (mut a, mut b, mut d, mut e) = (c(), c(), c(), c());
    vec![
        (
            "GetBulkJob",
            Box::pin(async move {
                a.get_bulk_job(pb::GetBulkJobRequest {
                    merchant_id: MISSPELT.into(),
                    job_id: "j-1".into(),
                    ..Default::default()
                })
                .await
                .map(drop)
            }),
        ),
        (
            "DownloadBulkJobResults",
            Box::pin(async move {
                first_message(
                    b.download_bulk_job_results(pb::DownloadBulkJobResultsRequest {
                        merchant_id: MISSPELT.into(),
                        job_id: "j-1".into(),
                    })
                    .await,
                )
                .await
            }),
        ),
        (
            "ListBulkJobs",
            Box::pin(async move {
                d.list_bulk_jobs(pb::ListBulkJobsRequest {
                    merchant_id: MISSPELT.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
            }),
        ),
        (
            "ListCarrierAccounts",
            Box::pin(async move {
                e.list_carrier_accounts(pb::ListCarrierAccountsRequest {
                    merchant_id: MISSPELT.into(),
                })
                .await
                .map(drop)
            }),
        ),
    ]
}

/// Labels, policy and tracking reads, for the unknown merchant.
fn label_policy_and_tracking_reads(s: &TestServer) -> Vec<Call> {
    let o = |id: &str| vec![id.to_string()];
    let mut orders = s.orders.clone();
    let (mut p1, mut p2) = (s.policy.clone(), s.policy.clone());
    let (mut t1, mut t2) = (s.tracking.clone(), s.tracking.clone());
    vec![
        (
            "GetLabels",
            Box::pin(async move {
                orders
                    .get_labels(pb::GetLabelsRequest {
                        merchant_id: MISSPELT.into(),
                        order_ids: o("o-1"),
                    })
                    .await
                    .map(drop)
            }),
        ),
        (
            "EvaluateOrder",
            Box::pin(async move {
                p1.evaluate_order(pb::EvaluateOrderRequest {
                    merchant_id: MISSPELT.into(),
                    order_id: "o-1".into(),
                })
                .await
                .map(drop)
            }),
        ),
        (
            "CheckCombinedShipment",
            Box::pin(async move {
                p2.check_combined_shipment(pb::CheckCombinedShipmentRequest {
                    merchant_id: MISSPELT.into(),
                    order_ids: o("o-1"),
                    ..Default::default()
                })
                .await
                .map(drop)
            }),
        ),
        (
            "GetTracking",
            Box::pin(async move {
                t1.get_tracking(pb::GetTrackingRequest {
                    merchant_id: MISSPELT.into(),
                    lookup: Some(pb::get_tracking_request::Lookup::OrderId("o-1".into())),
                })
                .await
                .map(drop)
            }),
        ),
        (
            "ListStuckTrackings",
            Box::pin(async move {
                t2.list_stuck_trackings(pb::ListStuckTrackingsRequest {
                    merchant_id: MISSPELT.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
            }),
        ),
    ]
}

#[tokio::test]
async fn every_merchant_scoped_read_of_an_unknown_merchant_is_not_found() {
    let mut s = TestServer::start().await;
    s.merchant("m-shenzhen", "CN").await;
    s.release_at("m-shenzhen", "o-1", today() - Duration::days(1), alice())
        .await;
    let calls = [
        order_reads(&s),
        bulk_and_account_reads(&s),
        label_policy_and_tracking_reads(&s),
    ];
    for (rpc, call) in calls.into_iter().flatten() {
        assert_unknown_merchant(rpc, call.await);
    }
    a_known_merchant_with_nothing_gets_empty_answers(&mut s).await;
    s.stop().await;
}

async fn a_known_merchant_with_nothing_gets_empty_answers(s: &mut TestServer) {
    // The merchant that exists: its order is listed, and an empty list stays an empty answer.
    let listed = s
        .orders
        .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
            merchant_id: "m-shenzhen".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);
    let stuck = s
        .tracking
        .list_stuck_trackings(pb::ListStuckTrackingsRequest {
            merchant_id: "m-shenzhen".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(stuck.stuck.is_empty());
    let jobs = s
        .orders
        .list_bulk_jobs(pb::ListBulkJobsRequest {
            merchant_id: "m-shenzhen".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(jobs.jobs.is_empty());
}
