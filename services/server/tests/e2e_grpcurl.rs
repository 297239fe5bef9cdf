//! End to end, the way operators work: the built `fulfillment-server` binary, driven by the real
//! `grpcurl` through server reflection.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fulfillment_core::testing::TestDb;
use serde_json::Value;

fn grpcurl() -> PathBuf {
    if let Ok(path) = std::env::var("GRPCURL") {
        return PathBuf::from(path);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/grpcurl");
    if local.exists() {
        return local;
    }
    panic!("grpcurl not found: run `bash .ci/install-tools.sh` (or set GRPCURL)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .args(["--listen", &addr, "--demo"])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fulfillment-server");
        // The server prints how to call it once it listens.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "server did not start in time");
            match lines.next() {
                Some(Ok(line)) if line.contains("grpcurl -plaintext") => {
                    // Keep draining stdout so the server never writes into a closed pipe.
                    std::thread::spawn(move || lines.for_each(drop));
                    break;
                }
                Some(Ok(_)) => {}
                _ => panic!("server exited before listening: {:?}", child.try_wait()),
            }
        }
        Self { child, addr }
    }

    /// `grpcurl -plaintext OPTIONS ADDR COMMAND...`
    fn call(&self, options: &[&str], command: &[&str]) -> (bool, String) {
        let out = Command::new(grpcurl())
            .arg("-plaintext")
            .args(options)
            .arg(&self.addr)
            .args(command)
            .output()
            .expect("run grpcurl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn json(&self, method: &str, body: &str) -> Value {
        let (ok, text) = self.call(&["-d", body], &[method]);
        assert!(ok, "{method} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn grpcurl_lists_describes_releases_fulfils_and_gets_and_sees_a_clear_error() {
    let db = TestDb::new();
    let mut server = Server::start(db.url());

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

    // SIGTERM drains and exits cleanly.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}
