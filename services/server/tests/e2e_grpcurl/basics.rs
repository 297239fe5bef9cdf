//! The first things an operator does with grpcurl: list, describe, check health, release,
//! fulfil, get, see a clear error; then SIGTERM.

use std::process::Command;
use std::time::Duration;

use fulfillment_core::testing::TestDb;
use serde_json::Value;

use crate::common::wait::wait_until;
use crate::server::Server;

#[test]
fn grpcurl_lists_describes_releases_fulfils_and_gets_and_sees_a_clear_error() {
    let db = TestDb::new();
    let mut server = Server::start(db.url());
    lists_describes_and_checks_health(&server);
    releases_fulfils_and_gets(&server);
    sees_a_clear_error(&server);
    stops_cleanly_on_sigterm(&mut server);
}

fn lists_describes_and_checks_health(server: &Server) {
    let (ok, list) = server.call(&[], &["list"]);
    assert!(ok, "{list}");
    for service in [
        "fulfillment.v1.FulfillmentService",
        "fulfillment.v1.PolicyService",
        "fulfillment.v1.TrackingService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(list.contains(service), "{service} missing from:\n{list}");
    }

    let (ok, described) = server.call(&[], &["describe", "fulfillment.v1.FulfillOrderRequest"]);
    assert!(ok && described.contains("tracking_number"), "{described}");
    assert!(
        described.contains("Required. Normalised"),
        "field comments reach grpcurl: {described}"
    );

    let health = server.json(
        "grpc.health.v1.Health/Check",
        r#"{"service":"fulfillment.v1.FulfillmentService"}"#,
    );
    assert_eq!(health["status"], "SERVING");
}

fn releases_fulfils_and_gets(server: &Server) {
    // The demo data is there.
    let demo = server.json(
        "fulfillment.v1.FulfillmentService/ListOrdersToFulfill",
        r#"{"merchant_id":"m-shenzhen"}"#,
    );
    assert!(
        demo["orders"].as_array().is_some_and(|o| o.len() >= 5),
        "{demo}"
    );

    server.json(
        "fulfillment.v1.FulfillmentService/ReleaseOrder",
        r#"{"order_id":"e2e-1","merchant_id":"m-krakow","shipping_detail":{"name":"Jan Nowak","street_address1":"ul. Długa 1","city":"Gdańsk","zipcode":"80-001","country":"PL"}}"#,
    );
    let shipped = server.json(
        "fulfillment.v1.FulfillmentService/FulfillOrder",
        r#"{"merchant_id":"m-krakow","order_id":"e2e-1","carrier":"poczta-polska","tracking_number":"rr 123 456 785 pl","origin_country":"PL"}"#,
    );
    assert_eq!(
        shipped["order"]["state"], "ORDER_STATE_SHIPPED",
        "{shipped}"
    );
    let got = server.json(
        "fulfillment.v1.FulfillmentService/GetOrder",
        r#"{"merchant_id":"m-krakow","order_id":"e2e-1"}"#,
    );
    assert_eq!(
        got["order"]["tracking"]["trackingNumber"], "RR123456785PL",
        "{got}"
    );
    assert_eq!(
        got["order"]["tracking"]["status"],
        "TRACKING_STATUS_PENDING"
    );
}

fn sees_a_clear_error(server: &Server) {
    let (ok, error) = server.call(
        &[
            "-d",
            r#"{"merchant_id":"m-krakow","order_id":"o-pl-1","carrier":"poczta-polska","tracking_number":"","origin_country":"PL"}"#,
        ],
        &["fulfillment.v1.FulfillmentService/FulfillOrder"],
    );
    assert!(!ok);
    assert!(
        error.contains("InvalidArgument") && error.contains("tracking_number"),
        "{error}"
    );
    // Issue 20.1: reflection serves google.rpc's error details, so grpcurl prints them as JSON.
    let (ok, error) = server.call(
        &[
            "-format-error",
            "-d",
            r#"{"merchant_id":"m-krakow","order_id":"o-pl-1","carrier":"poczta-polska","tracking_number":"","origin_country":"PL"}"#,
        ],
        &["fulfillment.v1.FulfillmentService/FulfillOrder"],
    );
    assert!(!ok);
    assert!(!error.contains("is not recognized"), "{error}");
    let json: Value = serde_json::from_str(error.trim()).unwrap_or_else(|e| panic!("{e}: {error}"));
    let details = json["details"].as_array().unwrap();
    let info = details
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
        .unwrap_or_else(|| panic!("{error}"));
    assert_eq!(info["domain"], "fulfillment.v1", "{error}");
    assert!(
        info["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{error}"
    );
    let bad = details
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .unwrap_or_else(|| panic!("{error}"));
    assert_eq!(
        bad["fieldViolations"][0]["field"], "tracking_number",
        "{error}"
    );
}

/// SIGTERM drains and exits cleanly.
fn stops_cleanly_on_sigterm(server: &mut Server) {
    let pid = server.child.process.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_until(
        "the server stops on SIGTERM",
        Duration::from_secs(20),
        || server.child.process.try_wait().unwrap(),
    );
    assert!(status.success(), "exit status {status}");
}
