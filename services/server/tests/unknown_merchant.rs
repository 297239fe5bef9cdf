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

#[tokio::test]
async fn every_merchant_scoped_read_of_an_unknown_merchant_is_not_found() {
    let mut s = TestServer::start().await;
    s.merchant("m-shenzhen", "CN").await;
    s.release_at("m-shenzhen", "o-1", today() - Duration::days(1), alice())
        .await;
    let o = |id: &str| vec![id.to_string()];

    assert_unknown_merchant(
        "ListOrdersToFulfill",
        s.orders
            .list_orders_to_fulfill(pb::ListOrdersToFulfillRequest {
                merchant_id: MISSPELT.into(),
                ..Default::default()
            })
            .await,
    );
    assert_unknown_merchant(
        "GetOrder",
        s.orders
            .get_order(pb::GetOrderRequest {
                merchant_id: MISSPELT.into(),
                order_id: "o-1".into(),
            })
            .await,
    );
    assert_unknown_merchant(
        "BatchGetOrders",
        s.orders
            .batch_get_orders(pb::BatchGetOrdersRequest {
                merchant_id: MISSPELT.into(),
                order_ids: o("o-1"),
            })
            .await,
    );
    let export = match s
        .orders
        .export_orders(pb::ExportOrdersRequest {
            merchant_id: MISSPELT.into(),
            ..Default::default()
        })
        .await
    {
        Ok(stream) => stream.into_inner().message().await.map(|_| ()),
        Err(status) => Err(status),
    };
    assert_unknown_merchant("ExportOrders", export);
    assert_unknown_merchant(
        "GetBulkJob",
        s.orders
            .get_bulk_job(pb::GetBulkJobRequest {
                merchant_id: MISSPELT.into(),
                job_id: "j-1".into(),
                ..Default::default()
            })
            .await,
    );
    let download = match s
        .orders
        .download_bulk_job_results(pb::DownloadBulkJobResultsRequest {
            merchant_id: MISSPELT.into(),
            job_id: "j-1".into(),
        })
        .await
    {
        Ok(stream) => stream.into_inner().message().await.map(|_| ()),
        Err(status) => Err(status),
    };
    assert_unknown_merchant("DownloadBulkJobResults", download);
    assert_unknown_merchant(
        "ListBulkJobs",
        s.orders
            .list_bulk_jobs(pb::ListBulkJobsRequest {
                merchant_id: MISSPELT.into(),
                ..Default::default()
            })
            .await,
    );
    assert_unknown_merchant(
        "ListCarrierAccounts",
        s.orders
            .list_carrier_accounts(pb::ListCarrierAccountsRequest {
                merchant_id: MISSPELT.into(),
            })
            .await,
    );
    assert_unknown_merchant(
        "GetLabels",
        s.orders
            .get_labels(pb::GetLabelsRequest {
                merchant_id: MISSPELT.into(),
                order_ids: o("o-1"),
            })
            .await,
    );
    assert_unknown_merchant(
        "EvaluateOrder",
        s.policy
            .evaluate_order(pb::EvaluateOrderRequest {
                merchant_id: MISSPELT.into(),
                order_id: "o-1".into(),
            })
            .await,
    );
    assert_unknown_merchant(
        "CheckCombinedShipment",
        s.policy
            .check_combined_shipment(pb::CheckCombinedShipmentRequest {
                merchant_id: MISSPELT.into(),
                order_ids: o("o-1"),
                ..Default::default()
            })
            .await,
    );
    assert_unknown_merchant(
        "GetTracking",
        s.tracking
            .get_tracking(pb::GetTrackingRequest {
                merchant_id: MISSPELT.into(),
                lookup: Some(pb::get_tracking_request::Lookup::OrderId("o-1".into())),
            })
            .await,
    );
    assert_unknown_merchant(
        "ListStuckTrackings",
        s.tracking
            .list_stuck_trackings(pb::ListStuckTrackingsRequest {
                merchant_id: MISSPELT.into(),
                ..Default::default()
            })
            .await,
    );

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
    s.stop().await;
}
