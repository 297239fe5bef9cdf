//! R7, R8 through grpcurl: the merchant's spreadsheet exported, filled in, uploaded and followed.

use std::time::Duration;

use fulfillment_core::testing::TestDb;
use serde_json::Value;

use crate::common::wait::wait_until_seen;
use crate::server::Server;

/// The stream of `{"chunk": base64}` messages grpcurl prints, joined into the file.
pub fn streamed_file(output: &str) -> String {
    use base64::Engine as _;
    let mut bytes = Vec::new();
    for message in serde_json::Deserializer::from_str(output).into_iter::<Value>() {
        let message = message.unwrap();
        let chunk = message["chunk"].as_str().unwrap_or_default();
        bytes.extend(
            base64::engine::general_purpose::STANDARD
                .decode(chunk)
                .unwrap(),
        );
    }
    String::from_utf8(bytes).unwrap()
}

/// R7, R8: the merchant's spreadsheet round trip, as an operator would do it with grpcurl:
/// export, fill in three rows, upload, follow the job, read the history and the results.
#[test]
fn grpcurl_spreadsheet_round_trip() {
    let db = TestDb::new();
    let server = Server::start(db.url());
    let job_id = upload_filled_export(&server);
    let job = completed(&server, &job_id);
    assert_eq!(job["job"]["acceptedRows"], "3", "{job}");
    assert_eq!(job["rows"].as_array().unwrap().len(), 3, "{job}");
    reads_the_order_history_and_results(&server, &job_id);
}

/// Exports the approved orders, fills in three rows as the merchant would, uploads the file;
/// returns the job's id.
fn upload_filled_export(server: &Server) -> String {
    use base64::Engine as _;
    let (ok, exported) = server.call(
        &[
            "-d",
            r#"{"merchant_id":"m-shenzhen","states":["ORDER_STATE_APPROVED"]}"#,
        ],
        &["fulfillment.v1.FulfillmentService/ExportOrders"],
    );
    assert!(ok, "{exported}");
    let file = streamed_file(&exported);
    let mut reader = csv::Reader::from_reader(file.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert!(
        header.iter().any(|h| h == "Is Re-Released"),
        "R17 for CN: {header:?}"
    );
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let fill = ["o-fresh-1", "o-fresh-2", "o-near-deadline"];
    for (i, row) in rows.iter_mut().enumerate() {
        if fill.contains(&row[0].as_str()) {
            row[at("Carrier")] = "USPS".into();
            row[at("Tracking Number")] = format!("9400111899223334449{i:03}");
            row[at("Origin Country")] = "CN".into();
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    for row in &rows {
        writer.write_record(row).unwrap();
    }
    let upload = base64::engine::general_purpose::STANDARD.encode(writer.into_inner().unwrap());
    let started = server.json(
        "fulfillment.v1.FulfillmentService/StartBulkFulfillment",
        &format!(r#"{{"merchant_id":"m-shenzhen","file_name":"e2e.csv","csv":"{upload}"}}"#),
    );
    let job_id = started["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["job"]["totalRows"], "3", "{started}");
    job_id
}

/// GetBulkJob, once the job has completed.
fn completed(server: &Server, job_id: &str) -> Value {
    wait_until_seen("the job finishes", Duration::from_secs(30), || {
        let got = server.json(
            "fulfillment.v1.FulfillmentService/GetBulkJob",
            &format!(r#"{{"merchant_id":"m-shenzhen","job_id":"{job_id}"}}"#),
        );
        if got["job"]["state"] == "BULK_JOB_STATE_COMPLETED" {
            Ok(got)
        } else {
            Err(got)
        }
    })
}

fn reads_the_order_history_and_results(server: &Server, job_id: &str) {
    let order = server.json(
        "fulfillment.v1.FulfillmentService/GetOrder",
        r#"{"merchant_id":"m-shenzhen","order_id":"o-fresh-1"}"#,
    );
    assert_eq!(order["order"]["state"], "ORDER_STATE_SHIPPED", "{order}");

    let history = server.json(
        "fulfillment.v1.FulfillmentService/ListBulkJobs",
        r#"{"merchant_id":"m-shenzhen"}"#,
    );
    assert_eq!(history["jobs"][0]["id"], job_id, "{history}");
    let (ok, results) = server.call(
        &[
            "-d",
            &format!(r#"{{"merchant_id":"m-shenzhen","job_id":"{job_id}"}}"#),
        ],
        &["fulfillment.v1.FulfillmentService/DownloadBulkJobResults"],
    );
    assert!(ok, "{results}");
    let results = streamed_file(&results);
    assert_eq!(results.matches("ACCEPTED").count(), 3, "{results}");
}
