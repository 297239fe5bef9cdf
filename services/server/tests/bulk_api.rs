//! Bulk fulfilment by CSV (R7), the export (R8, R17) and the bulk history, over gRPC against a
//! real server and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, alice, bulk_job, day, error_reason, today};
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;
use tonic::Code;

const APPROVED: i32 = pb::OrderState::Approved as i32;

async fn export(server: &mut TestServer, request: pb::ExportOrdersRequest) -> String {
    let mut stream = server
        .orders
        .export_orders(request)
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        bytes.extend_from_slice(&message.chunk);
    }
    String::from_utf8(bytes).unwrap()
}

fn export_all(merchant: &str) -> pb::ExportOrdersRequest {
    pb::ExportOrdersRequest {
        merchant_id: merchant.into(),
        ..Default::default()
    }
}

/// Reads a CSV file into its header and rows.
fn read_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

fn write_csv(header: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    writer.into_inner().unwrap()
}

async fn upload(server: &mut TestServer, merchant: &str, csv: Vec<u8>) -> pb::BulkJob {
    server
        .orders
        .start_bulk_fulfillment(pb::StartBulkFulfillmentRequest {
            merchant_id: merchant.into(),
            csv,
            file_name: "orders.csv".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

/// Polls until the job is completed, then returns it with every row.
async fn finished(
    server: &mut TestServer,
    merchant: &str,
    job_id: &str,
) -> (pb::BulkJob, Vec<pb::BulkJobRow>) {
    // Polled until it completes, with a deadline rather than a count of tries: on a loaded
    // machine each call takes longer, and the wait is for the job, not for a number of calls.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let job = bulk_job(&mut server.orders, merchant, job_id).await;
        if job.state == pb::BulkJobState::Completed as i32 {
            let mut rows = Vec::new();
            let mut token = String::new();
            loop {
                let page = server
                    .orders
                    .get_bulk_job(pb::GetBulkJobRequest {
                        merchant_id: merchant.into(),
                        job_id: job_id.into(),
                        page_size: 2,
                        page_token: token,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                rows.extend(page.rows);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            return (job, rows);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bulk job {job_id} did not finish");
}

fn order_events(server: &TestServer, order: &str) -> i64 {
    use fulfillment_core::schema::order_events;
    order_events::table
        .filter(order_events::order_id.eq(order))
        .count()
        .get_result(&mut server.conn())
        .unwrap()
}

#[tokio::test]
async fn round_trip_export_fill_upload_ships_every_order() {
    let mut server = TestServer::start().await;
    server.merchant("m-cn", "CN").await;
    for i in 0..5 {
        server
            .release_at("m-cn", &format!("o-{i}"), day(8), alice())
            .await;
    }
    let file = export(
        &mut server,
        pb::ExportOrdersRequest {
            merchant_id: "m-cn".into(),
            states: vec![APPROVED],
            ..Default::default()
        },
    )
    .await;
    let (header, mut rows) = read_csv(&file);
    assert_eq!(rows.len(), 5);
    let (carrier, number, origin) = (
        column(&header, "Carrier"),
        column(&header, "Tracking Number"),
        column(&header, "Origin Country"),
    );
    for (i, row) in rows.iter_mut().enumerate() {
        assert_eq!(row[column(&header, "Order State")], "APPROVED");
        row[carrier] = "USPS".into();
        row[number] = format!("9400111899223334445{i:03}");
        row[origin] = "CN".into();
    }

    let job = upload(&mut server, "m-cn", write_csv(&header, &rows)).await;
    assert_eq!(job.total_rows, 5);
    let (job, results) = finished(&mut server, "m-cn", &job.id).await;
    assert_eq!((job.accepted_rows, job.rejected_rows), (5, 0));
    assert_eq!(results.len(), 5, "every row, across pages");
    for i in 0..5 {
        let order = server.get("m-cn", &format!("o-{i}")).await;
        assert_eq!(order.state, pb::OrderState::Shipped as i32);
        let tracking = order.tracking.unwrap();
        assert_eq!(
            tracking.tracking_number,
            format!("9400111899223334445{i:03}")
        );
        // Release and ship: one audit row each, the ship one written by the job (R7, R3).
        assert_eq!(order_events(&server, &format!("o-{i}")), 2);
    }

    // The shipped orders export with their tracking, and the history lists the job.
    let again = export(&mut server, export_all("m-cn")).await;
    let (_, shipped) = read_csv(&again);
    assert!(
        shipped
            .iter()
            .all(|r| r[carrier].eq_ignore_ascii_case("usps") && r[origin] == "CN"),
        "{shipped:?}"
    );
    let history = server
        .orders
        .list_bulk_jobs(pb::ListBulkJobsRequest {
            merchant_id: "m-cn".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.jobs.len(), 1);
    assert_eq!(history.jobs[0].id, job.id);
    assert_eq!(history.jobs[0].file_name, "orders.csv");
    server.stop().await;
}

/// The mixed file's orders: five of m-1's released (one then refunded), and m-2's `foreign`.
async fn mixed_file_orders(server: &mut TestServer) {
    server.merchant("m-1", "US").await;
    server.merchant("m-2", "US").await;
    for id in ["good-1", "good-2", "bad-number", "dup", "refunded"] {
        server.release_at("m-1", id, day(8), alice()).await;
    }
    server.release_at("m-2", "foreign", day(8), alice()).await;
    {
        use fulfillment_core::schema::orders;
        diesel::update(orders::table.find("refunded"))
            .set((
                orders::state.eq("REFUNDED"),
                orders::refund_reason.eq("NOT_SHIPPED_IN_TIME"),
            ))
            .execute(&mut server.conn())
            .unwrap();
    }
}

/// Job `job_id`'s results download as CSV with every row and its reason; another merchant
/// cannot see the job.
async fn results_download_and_stay_private(server: &mut TestServer, job_id: &str) {
    // The results download as CSV with every row and its reason.
    let mut stream = server
        .orders
        .download_bulk_job_results(pb::DownloadBulkJobResultsRequest {
            merchant_id: "m-1".into(),
            job_id: job_id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        bytes.extend_from_slice(&m.chunk);
    }
    let (header, results) = read_csv(&String::from_utf8(bytes).unwrap());
    assert_eq!(results.len(), 8);
    assert_eq!(
        results[1][column(&header, "Reason")],
        "TRACKING_NUMBER_INVALID"
    );
    assert_eq!(results[0][column(&header, "Outcome")], "ACCEPTED");

    // Another merchant cannot see the job.
    let err = server
        .orders
        .get_bulk_job(pb::GetBulkJobRequest {
            merchant_id: "m-2".into(),
            job_id: job_id.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn mixed_file_rejects_bad_rows_alone_and_half_applies_nothing() {
    let mut server = TestServer::start().await;
    mixed_file_orders(&mut server).await;
    let file = "Order ID,Carrier,Tracking Number,Origin Country\r\n\
                good-1,USPS,9400111899223334445001,CN\r\n\
                bad-number,USPS,NOT_A_NUMBER!,CN\r\n\
                dup,USPS,9400111899223334445002,CN\r\n\
                foreign,USPS,9400111899223334445003,CN\r\n\
                missing,USPS,9400111899223334445004,CN\r\n\
                dup,USPS,9400111899223334445005,CN\r\n\
                refunded,USPS,9400111899223334445006,CN\r\n\
                good-2,USPS,9400111899223334445007,XX\r\n\
                good-2-later,,,\r\n";
    let job = upload(&mut server, "m-1", file.as_bytes().to_vec()).await;
    assert_eq!((job.total_rows, job.skipped_rows), (8, 1));
    let (job, rows) = finished(&mut server, "m-1", &job.id).await;
    let reasons: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| {
            let outcome = if r.outcome == pb::BulkRowOutcome::Accepted as i32 {
                "accepted"
            } else {
                "rejected"
            };
            (r.line, r.order_id.as_str(), outcome)
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (2, "good-1", "accepted"),
            (3, "bad-number", "rejected"),
            (4, "dup", "rejected"),
            (5, "foreign", "rejected"),
            (6, "missing", "rejected"),
            (7, "dup", "rejected"),
            (8, "refunded", "rejected"),
            (9, "good-2", "rejected"),
        ]
    );
    let reason = |line: i64| rows.iter().find(|r| r.line == line).unwrap().reason.clone();
    assert_eq!(reason(3), "TRACKING_NUMBER_INVALID");
    assert_eq!(reason(4), "DUPLICATE_ORDER_ID");
    // Another merchant's order is not found: nothing about it leaks.
    assert_eq!(reason(5), "NOT_FOUND");
    assert_eq!(reason(6), "NOT_FOUND");
    assert_eq!(reason(9), "COUNTRY_CODE_INVALID");
    assert!(!rows[6].message.is_empty(), "a refunded order says why");
    assert_eq!((job.accepted_rows, job.rejected_rows), (1, 7));

    // Rejected rows changed nothing: their orders are as released, with only the release row.
    for id in ["bad-number", "dup", "refunded", "good-2"] {
        assert_eq!(order_events(&server, id), 1, "{id}");
    }
    assert_eq!(
        server.get("m-1", "good-2").await.state,
        APPROVED,
        "a bad origin country leaves the order waiting"
    );
    assert_eq!(server.get("m-2", "foreign").await.state, APPROVED);

    results_download_and_stay_private(&mut server, &job.id).await;
    server.stop().await;
}

#[tokio::test]
async fn a_shipped_order_row_modifies_its_tracking() {
    let mut server = TestServer::start().await;
    server.merchant("m-1", "US").await;
    server.release_at("m-1", "o-1", day(8), alice()).await;
    server
        .orders
        .fulfill_order(common::fulfil(
            "m-1",
            "o-1",
            "USPS",
            "9400111899223334445001",
        ))
        .await
        .unwrap();
    let file = "Order ID,Carrier,Tracking Number,Origin Country\n\
                o-1,USPS,9400111899223334445999,CN\n";
    let job = upload(&mut server, "m-1", file.as_bytes().to_vec()).await;
    let (job, _) = finished(&mut server, "m-1", &job.id).await;
    assert_eq!(job.accepted_rows, 1);
    let order = server.get("m-1", "o-1").await;
    assert_eq!(
        order.tracking.unwrap().tracking_number,
        "9400111899223334445999"
    );
    // R4: the replaced tracking stays in the history.
    assert_eq!(order.tracking_history.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn hostile_files_are_refused_whole_with_the_reason() {
    let mut server = TestServer::start().await;
    server.merchant("m-1", "US").await;
    server.release_at("m-1", "o-1", day(8), alice()).await;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("empty", Vec::new(), "CSV_EMPTY", "empty"),
        (
            "missing columns",
            b"Order ID,Carrier\no-1,USPS\n".to_vec(),
            "CSV_HEADER_INVALID",
            "Tracking Number, Origin Country",
        ),
        (
            "invalid UTF-8",
            b"Order ID,Carrier,Tracking Number,Origin Country\no-1,US\xffPS,9400111899223334445001,CN\n"
                .to_vec(),
            "CSV_NOT_UTF8",
            "line 2",
        ),
        (
            "too many rows",
            {
                let mut f = String::from("Order ID,Carrier,Tracking Number,Origin Country\n");
                for i in 0..50_001 {
                    f.push_str(&format!("o-{i},USPS,94001118992{i:011},CN\n"));
                }
                f.into_bytes()
            },
            "CSV_TOO_LARGE",
            "50000",
        ),
        (
            "nothing filled in",
            b"Order ID,Carrier,Tracking Number,Origin Country\no-1,,,\n".to_vec(),
            "CSV_EMPTY",
            "filled in",
        ),
    ];
    for (name, csv, reason, text) in cases {
        let err = server
            .orders
            .start_bulk_fulfillment(pb::StartBulkFulfillmentRequest {
                merchant_id: "m-1".into(),
                csv,
                file_name: "x.csv".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}");
        let (got_reason, fields) = error_reason(&err);
        assert_eq!(got_reason, reason, "{name}");
        assert_eq!(fields, vec!["csv".to_owned()], "{name}");
        assert!(err.message().contains(text), "{name}: {}", err.message());
    }
    // Nothing was stored and the order is untouched.
    let history = server
        .orders
        .list_bulk_jobs(pb::ListBulkJobsRequest {
            merchant_id: "m-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(history.jobs.is_empty());
    assert_eq!(order_events(&server, "o-1"), 1);
    server.stop().await;
}

#[tokio::test]
async fn rerelease_columns_only_for_mainland_china_merchants() {
    let mut server = TestServer::start().await;
    server.merchant("m-cn", "CN").await;
    server.merchant("m-us", "US").await;
    server.release_at("m-cn", "cn-1", day(8), alice()).await;
    server.release_at("m-us", "us-1", day(8), alice()).await;
    {
        use fulfillment_core::schema::orders;
        // As the re-release decider leaves an order (R16): these are the values shown.
        diesel::update(orders::table.find("cn-1"))
            .set((
                orders::tracking_number_cancelled.eq(true),
                orders::tracking_number_cancelled_date.eq(day(9)),
                orders::is_re_released.eq(true),
                orders::order_re_released_date.eq(day(10)),
            ))
            .execute(&mut server.conn())
            .unwrap();
    }
    let (cn_header, cn_rows) = read_csv(&export(&mut server, export_all("m-cn")).await);
    let (us_header, _) = read_csv(&export(&mut server, export_all("m-us")).await);
    for name in [
        "Tracking Number Cancelled",
        "Tracking Number Cancelled Date",
        "Is Re-Released",
        "Order Re-Released Date",
    ] {
        assert!(cn_header.iter().any(|h| h == name), "{name} for CN");
        assert!(!us_header.iter().any(|h| h == name), "{name} not for US");
    }
    let row = &cn_rows[0];
    assert_eq!(row[column(&cn_header, "Is Re-Released")], "Yes");
    assert_eq!(
        row[column(&cn_header, "Order Re-Released Date")],
        day(10).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(row[column(&cn_header, "Tracking Number Cancelled")], "Yes");

    // The re-released-only filter keeps it; the A+ filter drops it.
    let (_, re_released) = read_csv(
        &export(
            &mut server,
            pb::ExportOrdersRequest {
                merchant_id: "m-cn".into(),
                re_released_only: true,
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(re_released.len(), 1);
    let (_, aplus) = read_csv(
        &export(
            &mut server,
            pb::ExportOrdersRequest {
                merchant_id: "m-cn".into(),
                advanced_logistics_only: true,
                ..Default::default()
            },
        )
        .await,
    );
    assert!(aplus.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn export_filters_fields_and_bad_filters() {
    let mut server = TestServer::start().await;
    server.merchant("m-1", "US").await;
    let mut buyer = alice();
    // A buyer-typed value a spreadsheet would run as a formula, and a comma and a newline.
    buyer.name = "=HYPERLINK(\"x\")".into();
    buyer.street_address1 = "1 Main St, Apt 2\nBack door".into();
    server.release_at("m-1", "early", day(2), alice()).await;
    server.release_at("m-1", "late", day(8), buyer).await;
    let (header, rows) = read_csv(
        &export(
            &mut server,
            pb::ExportOrdersRequest {
                merchant_id: "m-1".into(),
                released_after: Some(common::ts(day(5))),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row[0], "late");
    assert_eq!(row[column(&header, "Recipient Name")], "'=HYPERLINK(\"x\")");
    assert_eq!(
        row[column(&header, "Street Address 1")],
        "1 Main St, Apt 2\nBack door"
    );
    // R2: released on day 8 with 5 days to ship, seen today (day 11 at 12:00).
    let deadline = day(8) + chrono::Duration::days(5);
    let hours = (deadline - today()).num_hours();
    assert_eq!(row[column(&header, "Hours to Fulfill")], hours.to_string());

    let err = server
        .orders
        .export_orders(pb::ExportOrdersRequest {
            merchant_id: "m-1".into(),
            released_after: Some(common::ts(day(5))),
            released_before: Some(common::ts(day(4))),
            ..Default::default()
        })
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&err).1, vec!["released_before".to_owned()]);
    let err = server
        .orders
        .export_orders(export_all("nobody"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}
