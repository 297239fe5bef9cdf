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

/// A unary answer, as its status alone.
async fn unary_answer<T>(
    answer: Result<tonic::Response<T>, tonic::Status>,
) -> Result<(), tonic::Status> {
    answer.map(drop)
}

/// A streamed answer's first message, or the status that refused it.
async fn first_message<T>(
    answer: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Result<(), tonic::Status> {
    answer?.into_inner().message().await.map(drop)
}

/// One row of the table below: `$rpc` called on a clone of `$client` with `$request`, whose
/// `merchant_id` the macro fills in as the misspelt merchant (so no row can forget it). `unary`
/// rows answer with the call's status; `stream` rows with their first message's, since a
/// streamed RPC may only refuse once it is read.
macro_rules! call {
    (unary $rpc:literal, $client:expr, $method:ident, $($request:ident)::+ { $($fields:tt)* }) => {
        call!(@row $rpc, $client, $method, $($request)::+ { $($fields)* }, unary_answer)
    };
    (stream $rpc:literal, $client:expr, $method:ident, $($request:ident)::+ { $($fields:tt)* }) => {
        call!(@row $rpc, $client, $method, $($request)::+ { $($fields)* }, first_message)
    };
    (@row $rpc:literal, $client:expr, $method:ident,
        $($request:ident)::+ { $($fields:tt)* }, $read:expr) => {{
        let mut client = $client.clone();
        let call: Call = (
            $rpc,
            Box::pin(async move {
                let answer = client
                    .$method($($request)::+ { merchant_id: MISSPELT.into(), $($fields)* })
                    .await;
                ($read)(answer).await
            }),
        );
        call
    }};
}

/// Every merchant-scoped read and list: orders, bulk jobs, carrier accounts, labels, policy
/// and tracking.
fn unknown_merchant_reads(s: &TestServer) -> Vec<Call> {
    let o = || vec!["o-1".to_string()];
    let by_order = || Some(pb::get_tracking_request::Lookup::OrderId("o-1".into()));
    vec![
        call!(unary "ListOrdersToFulfill", s.orders, list_orders_to_fulfill,
            pb::ListOrdersToFulfillRequest { ..Default::default() }),
        call!(unary "GetOrder", s.orders, get_order,
            pb::GetOrderRequest { order_id: "o-1".into() }),
        call!(unary "BatchGetOrders", s.orders, batch_get_orders,
            pb::BatchGetOrdersRequest { order_ids: o() }),
        call!(stream "ExportOrders", s.orders, export_orders,
            pb::ExportOrdersRequest { ..Default::default() }),
        call!(unary "GetBulkJob", s.orders, get_bulk_job,
            pb::GetBulkJobRequest { job_id: "j-1".into(), ..Default::default() }),
        call!(stream "DownloadBulkJobResults", s.orders, download_bulk_job_results,
            pb::DownloadBulkJobResultsRequest { job_id: "j-1".into() }),
        call!(unary "ListBulkJobs", s.orders, list_bulk_jobs,
            pb::ListBulkJobsRequest { ..Default::default() }),
        call!(unary "ListCarrierAccounts", s.orders, list_carrier_accounts,
            pb::ListCarrierAccountsRequest {}),
        call!(unary "GetLabels", s.orders, get_labels,
            pb::GetLabelsRequest { order_ids: o() }),
        call!(unary "EvaluateOrder", s.policy, evaluate_order,
            pb::EvaluateOrderRequest { order_id: "o-1".into() }),
        call!(unary "CheckCombinedShipment", s.policy, check_combined_shipment,
            pb::CheckCombinedShipmentRequest { order_ids: o(), ..Default::default() }),
        call!(unary "GetTracking", s.tracking, get_tracking,
            pb::GetTrackingRequest { lookup: by_order() }),
        call!(unary "ListStuckTrackings", s.tracking, list_stuck_trackings,
            pb::ListStuckTrackingsRequest { ..Default::default() }),
    ]
}

#[tokio::test]
async fn every_merchant_scoped_read_of_an_unknown_merchant_is_not_found() {
    let mut s = TestServer::start().await;
    s.merchant("m-shenzhen", "CN").await;
    s.release_at("m-shenzhen", "o-1", today() - Duration::days(1), alice())
        .await;
    for (rpc, call) in unknown_merchant_reads(&s) {
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
