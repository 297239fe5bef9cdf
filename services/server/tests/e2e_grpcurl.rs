//! End to end, the way operators work: the built `fulfillment-server` binary, driven by the real
//! `grpcurl` through server reflection.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::certs::{Ca, write};
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

/// `grpcurl TRANSPORT OPTIONS ADDR COMMAND...`: success, and stdout with stderr.
fn grpcurl_call(
    addr: &str,
    transport: &[String],
    options: &[&str],
    command: &[&str],
) -> (bool, String) {
    let out = Command::new(grpcurl())
        .args(transport)
        .args(options)
        .arg(addr)
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

struct Server {
    child: Child,
    addr: String,
    /// `http://127.0.0.1:PORT/couriers/intelipost/trackings/v1` (https with TLS).
    webhook_url: String,
    /// How grpcurl reaches this server: `-plaintext`, or the TLS files.
    transport: Vec<String>,
}

impl Server {
    fn start(database_url: &str) -> Self {
        Self::start_with(
            database_url,
            &[],
            &[],
            vec!["-plaintext".into()],
            Stdio::inherit(),
        )
    }

    /// Starts the binary with `--demo` and `extra` arguments; waits until it listens.
    fn start_with(
        database_url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        transport: Vec<String>,
        stderr: Stdio,
    ) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .args([
                "--listen",
                &addr,
                "--webhook-listen",
                "127.0.0.1:0",
                "--demo",
            ])
            .args(extra)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start fulfillment-server");
        // The server prints how to call it once it listens, then the webhook's address.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let webhook_url;
        loop {
            assert!(Instant::now() < deadline, "server did not start in time");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("Intelipost webhook: POST ") => {
                    webhook_url = line["Intelipost webhook: POST ".len()..].to_owned();
                    // Keep draining stdout so the server never writes into a closed pipe.
                    std::thread::spawn(move || lines.for_each(drop));
                    break;
                }
                Some(Ok(_)) => {}
                _ => panic!("server exited before listening: {:?}", child.try_wait()),
            }
        }
        Self {
            child,
            addr,
            webhook_url,
            transport,
        }
    }

    fn call(&self, options: &[&str], command: &[&str]) -> (bool, String) {
        grpcurl_call(&self.addr, &self.transport, options, command)
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

/// The stream of `{"chunk": base64}` messages grpcurl prints, joined into the file.
fn streamed_file(output: &str) -> String {
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
    use base64::Engine as _;
    let db = TestDb::new();
    let server = Server::start(db.url());
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

    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let got = server.json(
            "fulfillment.v1.FulfillmentService/GetBulkJob",
            &format!(r#"{{"merchant_id":"m-shenzhen","job_id":"{job_id}"}}"#),
        );
        if got["job"]["state"] == "BULK_JOB_STATE_COMPLETED" {
            break got;
        }
        assert!(Instant::now() < deadline, "job did not finish: {got}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job["job"]["acceptedRows"], "3", "{job}");
    assert_eq!(job["rows"].as_array().unwrap().len(), 3, "{job}");
    let order = server.json(
        "fulfillment.v1.FulfillmentService/GetOrder",
        r#"{"merchant_id":"m-shenzhen","order_id":"o-fresh-1"}"#,
    );
    assert_eq!(order["order"]["state"], "ORDER_STATE_SHIPPED", "{order}");

    let history = server.json(
        "fulfillment.v1.FulfillmentService/ListBulkJobs",
        r#"{"merchant_id":"m-shenzhen"}"#,
    );
    assert_eq!(history["jobs"][0]["id"], job_id.as_str(), "{history}");
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

const OPERATOR_TOKEN: &str = "e2e-operator-5b1d9c";
const GATEWAY_TOKEN: &str = "e2e-gateway-krakow-a77e03";
const SERVICE_TOKEN: &str = "e2e-service-settings-c0ffee";
const CARRIER_PASSWORD: &str = "e2e-Poczta-haslo-31f9";
const INTELIPOST_PASSWORD: &str = "e2e-Intelipost-senha-77aa";
const ENCRYPTION_KEYS: &str =
    "e2e:8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

#[test]
fn grpcurl_over_mutual_tls_with_tokens_and_no_secret_in_the_logs() {
    use fulfillment_server::auth::token_hash_hex;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server_ca = Ca::new("e2e server CA");
    let client_ca = Ca::new("e2e client CA");
    let server_leaf = server_ca.server();
    let client_leaf = client_ca.client("operator-laptop");
    let path = |name: &str, contents: &str| write(d, name, contents).display().to_string();
    let (ca, cert, key) = (
        path("ca.pem", &server_ca.pem()),
        path("server.pem", &server_leaf.cert_pem),
        path("server.key", &server_leaf.key_pem),
    );
    let client_ca_file = path("client-ca.pem", &client_ca.pem());
    let (client_cert, client_key) = (
        path("client.pem", &client_leaf.cert_pem),
        path("client.key", &client_leaf.key_pem),
    );
    let tokens = path(
        "tokens",
        &format!(
            "# e2e callers\noperator {}\nmerchant-gateway {} m-krakow\nservice {}\n",
            token_hash_hex(OPERATOR_TOKEN),
            token_hash_hex(GATEWAY_TOKEN),
            token_hash_hex(SERVICE_TOKEN)
        ),
    );
    let log_path = d.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mtls: Vec<String> = ["-cacert", &ca, "-cert", &client_cert, "-key", &client_key]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let server = Server::start_with(
        db.url(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &client_ca_file,
            "--auth-tokens-file",
            &tokens,
        ],
        // Everything the server logs, at its most talkative, goes to the file grepped below.
        &[
            ("RUST_LOG", "debug"),
            ("LOG_FORMAT", "json"),
            ("FULFILLMENT_ENCRYPTION_KEYS", ENCRYPTION_KEYS),
        ],
        mtls,
        Stdio::from(log),
    );

    // Reflection and health need no token, but do need the client certificate.
    let (ok, list) = server.call(&[], &["list"]);
    assert!(
        ok && list.contains("fulfillment.v1.FulfillmentService"),
        "{list}"
    );

    let get = |token: Option<&str>, merchant: &str| {
        let body = format!(r#"{{"merchant_id":"{merchant}","order_id":"o-pl-1"}}"#);
        let header = token.map(|t| format!("authorization: Bearer {t}"));
        let mut options = vec!["-d", body.as_str()];
        if let Some(h) = &header {
            options.extend(["-H", h.as_str()]);
        }
        server.call(&options, &["fulfillment.v1.FulfillmentService/GetOrder"])
    };
    let (ok, text) = get(None, "m-krakow");
    assert!(!ok && text.contains("Unauthenticated"), "{text}");
    let (ok, text) = get(Some("not-a-token"), "m-krakow");
    assert!(!ok && text.contains("Unauthenticated"), "{text}");
    let (ok, text) = get(Some(GATEWAY_TOKEN), "m-krakow");
    assert!(ok && text.contains("o-pl-1"), "{text}");
    let (ok, text) = get(Some(GATEWAY_TOKEN), "m-shenzhen");
    assert!(!ok && text.contains("PermissionDenied"), "{text}");
    let (ok, text) = get(Some(OPERATOR_TOKEN), "m-krakow");
    assert!(ok, "{text}");
    let (ok, text) = server.call(
        &[
            "-H",
            &format!("authorization: Bearer {OPERATOR_TOKEN}"),
            "-d",
            "{}",
        ],
        &["fulfillment.v1.FulfillmentService/ReleaseOrder"],
    );
    assert!(!ok && text.contains("PermissionDenied"), "{text}");

    // A merchant connects a carrier account: the answer shows the login, never the password.
    let (ok, text) = server.call(
        &[
            "-H",
            &format!("authorization: Bearer {GATEWAY_TOKEN}"),
            "-d",
            &format!(
                r#"{{"merchant_id":"m-krakow","poczta_polska":{{"login":"sklep","password":"{CARRIER_PASSWORD}","account_kind":"POCZTA_POLSKA_ACCOUNT_KIND_REGULAR"}}}}"#
            ),
        ],
        &["fulfillment.v1.FulfillmentService/ConnectCarrierAccount"],
    );
    assert!(ok && text.contains("sklep"), "{text}");
    assert!(!text.contains(CARRIER_PASSWORD), "{text}");
    // A malformed one is refused, and the refusal does not echo the secret either.
    let (ok, text) = server.call(
        &[
            "-H",
            &format!("authorization: Bearer {GATEWAY_TOKEN}"),
            "-d",
            &format!(
                r#"{{"merchant_id":"m-krakow","inpost":{{"api_token":"{CARRIER_PASSWORD}-2","send_from_locker":true}}}}"#
            ),
        ],
        &["fulfillment.v1.FulfillmentService/ConnectCarrierAccount"],
    );
    assert!(!ok && text.contains("inpost.sending_locker"), "{text}");
    assert!(!text.contains(CARRIER_PASSWORD), "{text}");

    // Intelipost (R12-R14): the settings service records the integration, the merchant ships
    // with the NF-e number, and Intelipost pushes over HTTPS with Basic auth (no client
    // certificate: carriers are not our CA's clients).
    let as_service = format!("authorization: Bearer {SERVICE_TOKEN}");
    let as_gateway = format!("authorization: Bearer {GATEWAY_TOKEN}");
    let (ok, text) = server.call(
        &[
            "-H",
            &as_service,
            "-d",
            &format!(
                r#"{{"merchant_id":"m-krakow","username":"krakow-ip","password":"{INTELIPOST_PASSWORD}","connected":true}}"#
            ),
        ],
        &["fulfillment.v1.TrackingService/SetIntelipostIntegration"],
    );
    assert!(ok && text.contains("krakow-ip"), "{text}");
    assert!(!text.contains(INTELIPOST_PASSWORD), "{text}");
    let (ok, text) = server.call(
        &[
            "-H",
            &as_service,
            "-d",
            r#"{"order_id":"e2e-br-1","merchant_id":"m-krakow","shipping_detail":{"name":"Ana Souza","street_address1":"Rua A 1","city":"Sao Paulo","zipcode":"01000-000","country":"BR"}}"#,
        ],
        &["fulfillment.v1.FulfillmentService/ReleaseOrder"],
    );
    assert!(ok, "{text}");
    let (ok, text) = server.call(
        &[
            "-H",
            &as_gateway,
            "-d",
            r#"{"merchant_id":"m-krakow","order_id":"e2e-br-1","carrier":"intelipost","tracking_number":"35190","origin_country":"BR"}"#,
        ],
        &["fulfillment.v1.FulfillmentService/FulfillOrder"],
    );
    assert!(ok, "{text}");
    // Intelipost's real push shape (no sales channel, R14), for our NF-e number.
    let push = include_str!("../../carriers/tests/fixtures/intelipost/push_in_transit.json")
        .replace("\"12345\"", "\"35190\"");
    let url = server.webhook_url.clone();
    assert!(url.starts_with("https://"), "{url}");
    let ca_pem = server_ca.pem();
    let post = |password: &str| {
        let (url, push, ca_pem, password) = (
            url.clone(),
            push.clone(),
            ca_pem.clone(),
            password.to_owned(),
        );
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let client = reqwest::Client::builder()
                    .add_root_certificate(
                        reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap(),
                    )
                    .build()
                    .unwrap();
                let response = client
                    .post(url)
                    .basic_auth("krakow-ip", Some(password))
                    .body(push)
                    .send()
                    .await
                    .unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            })
    };
    assert_eq!(post("wrong-password").0, 401);
    let (code, body) = post(INTELIPOST_PASSWORD);
    assert_eq!(code, 200, "{body}");
    let (ok, text) = server.call(
        &[
            "-H",
            &as_gateway,
            "-d",
            r#"{"merchant_id":"m-krakow","order_id":"e2e-br-1"}"#,
        ],
        &["fulfillment.v1.TrackingService/GetTracking"],
    );
    assert!(ok && text.contains("TRACKING_STATUS_IN_TRANSIT"), "{text}");
    assert!(text.contains("confirmedFulfillmentAt"), "{text}");

    // Without a client certificate, or in plaintext, nothing gets through.
    let no_client_cert = ["-cacert".to_string(), ca.clone()];
    let (ok, text) = grpcurl_call(&server.addr, &no_client_cert, &[], &["list"]);
    assert!(!ok, "served a client without a certificate: {text}");
    let (ok, text) = grpcurl_call(&server.addr, &["-plaintext".to_string()], &[], &["list"]);
    assert!(!ok, "served plaintext: {text}");

    drop(server);
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("auth tokens loaded"),
        "the server logged nothing: {logs}"
    );
    assert!(logs.contains("call refused"), "refusals are logged: {logs}");
    let key_hex = ENCRYPTION_KEYS.split_once(':').unwrap().1;
    for secret in [
        OPERATOR_TOKEN,
        GATEWAY_TOKEN,
        "not-a-token",
        "PRIVATE KEY",
        CARRIER_PASSWORD,
        INTELIPOST_PASSWORD,
        SERVICE_TOKEN,
        key_hex,
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}

#[test]
fn without_tokens_the_server_refuses_a_non_loopback_address() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
        .args(["--listen", "0.0.0.0:0"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("FULFILLMENT_AUTH_TOKENS_FILE")
        .env_remove("FULFILLMENT_AUTH_TOKENS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && stderr.contains("--auth-tokens-file"),
        "{stderr}"
    );
}

/// Issue 22.5: a log written to a pipe or a file holds no colour codes, and the start-up line
/// says what the migrations did: "applied N migrations" on an empty database, then
/// "schema up to date".
#[test]
fn logs_off_a_terminal_are_plain_and_say_what_the_migrations_did() {
    use diesel::RunQueryDsl;
    let db = TestDb::new();
    diesel::sql_query("DROP SCHEMA public CASCADE")
        .execute(&mut db.conn())
        .unwrap();
    diesel::sql_query("CREATE SCHEMA public")
        .execute(&mut db.conn())
        .unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("up.sql").exists())
        .count();
    let migrate = || {
        let out = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .env_remove("LOG_FORMAT")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "colour codes in a piped log: {stderr:?}"
        );
        stderr
    };
    let first = migrate();
    assert!(
        first.contains(&format!("applied {migrations} migrations")),
        "{first}"
    );
    let second = migrate();
    assert!(second.contains("schema up to date"), "{second}");
    assert!(!second.contains("applied"), "{second}");
}

/// The `sh` blocks of a Markdown file whose text contains `needle`, as commands: continuation
/// lines joined, each with the comment lines just above it.
fn documented_commands(file: &str, needle: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut commands = Vec::new();
    let mut blocks = text.split("```sh\n").skip(1);
    let block = blocks
        .find(|b| b.split("```").next().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{file}: no sh block with {needle}"));
    let (mut comment, mut command) = (String::new(), String::new());
    for line in block.split("```").next().unwrap().lines() {
        if command.is_empty() && (line.starts_with('#') || line.trim().is_empty()) {
            if line.trim().is_empty() {
                comment.clear();
            } else {
                comment.push_str(line);
                comment.push('\n');
            }
            continue;
        }
        // Kept as written: `sh` reads the trailing backslash as a continuation.
        command.push_str(line);
        command.push('\n');
        if !line.ends_with('\\') {
            commands.push((comment.clone(), std::mem::take(&mut command)));
        }
    }
    commands
}

/// Runs `command` as written (through `sh`, grpcurl on the PATH) against `server`.
fn run_as_written(server: &Server, dir: &std::path::Path, command: &str) -> (bool, String) {
    let grpcurl_dir = grpcurl().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        grpcurl_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-ec", &command.replace("127.0.0.1:50051", &server.addr)])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Issue 22.4: every grpcurl call in README's "Calling it" answers on the demo data as its
/// comment promises: success, except the one shown as bad input.
#[test]
fn every_readme_call_runs_as_written_on_the_demo_data() {
    let db = TestDb::new();
    let server = Server::start(db.url());
    let dir = tempfile::tempdir().unwrap();
    let commands = documented_commands("README.md", "ListOrdersToFulfill");
    let calls: Vec<_> = commands
        .iter()
        .filter(|(_, c)| c.starts_with("grpcurl"))
        .collect();
    assert!(calls.len() >= 10, "{commands:?}");
    for (comment, command) in calls {
        let (ok, out) = run_as_written(&server, dir.path(), command);
        if comment.contains("Bad input") {
            assert!(!ok, "{command}\n{out}");
            assert!(
                out.contains("InvalidArgument") && out.contains("tracking_number"),
                "{command}\n{out}"
            );
        } else {
            assert!(ok, "{comment}{command}\n{out}");
            assert!(
                !out.trim().is_empty() && out.trim() != "{}",
                "{command}\n{out}"
            );
        }
        if comment.contains("Refused") {
            assert!(out.contains("R10") && out.contains("o-far-apart"), "{out}");
        }
    }
}

/// Issue 22.4: docs/bulk.md's round trip, as written: export, upload, follow, download (the
/// `bulk-…` placeholder stands for the job the upload answered).
#[test]
fn the_bulk_guide_runs_as_written_on_the_demo_data() {
    let db = TestDb::new();
    let server = Server::start(db.url());
    let dir = tempfile::tempdir().unwrap();
    let commands = documented_commands("docs/bulk.md", "StartBulkFulfillment");
    assert_eq!(commands.len(), 5, "{commands:?}");
    let mut job_id = None::<String>;
    for (comment, command) in &commands {
        let command = match &job_id {
            Some(id) => command.replace("bulk-…", id),
            None => command.clone(),
        };
        if comment.contains("fill in") {
            fill_in(&dir.path().join("orders.csv"), "o-fresh-1");
        }
        let (ok, out) = run_as_written(&server, dir.path(), &command);
        assert!(ok, "{comment}{command}\n{out}");
        if command.contains("StartBulkFulfillment") {
            let answer: Value = serde_json::from_str(&out).unwrap();
            job_id = answer["job"]["id"].as_str().map(str::to_owned);
            assert!(job_id.is_some(), "{out}");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("orders.csv")).unwrap();
    assert!(csv.contains("LX123456789CN"), "{csv}");
    let results = run_as_written(
        &server,
        dir.path(),
        &commands[4].1.replace("bulk-…", job_id.as_deref().unwrap()),
    )
    .1;
    assert!(results.contains("o-fresh-1"), "{results}");
}

/// What the merchant does between export and upload: carrier, tracking number and origin
/// country for one order, through the csv crate as a spreadsheet would write it.
fn fill_in(path: &std::path::Path, order_id: &str) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, carrier, number, origin) = (
        column("Order ID"),
        column("Carrier"),
        column("Tracking Number"),
        column("Origin Country"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let mut row: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if row[id] == order_id {
            row[carrier] = "wishpost".into();
            row[number] = "LX123456789CN".into();
            row[origin] = "CN".into();
        }
        rows.push(row);
    }
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(&headers).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}

/// An OTLP/gRPC collector on port 0 keeping every span it is sent.
type Received = std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>;

struct Collector(Received);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(Default::default()))
    }
}

fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

/// Issue 20.3: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports each RPC's span over
/// OTLP, as a child of the caller's W3C `traceparent`, with its method, merchant and request id.
#[test]
fn each_rpc_is_a_span_of_the_callers_trace_exported_over_otlp() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let collector_addr = listener.local_addr().unwrap();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(received.clone())))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let db = TestDb::new();
    let endpoint = format!("http://{collector_addr}");
    let server = Server::start_with(
        db.url(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // Export every 100 ms rather than every 5 s: the test waits less.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        vec!["-plaintext".into()],
        Stdio::inherit(),
    );
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let (ok, text) = server.call(
        &[
            "-H",
            &format!("traceparent: 00-{trace}-{parent}-01"),
            "-H",
            "x-request-id: req-otlp-1",
            "-d",
            r#"{"merchant_id":"m-shenzhen","order_id":"o-fresh-1"}"#,
        ],
        &["fulfillment.v1.FulfillmentService/GetOrder"],
    );
    assert!(ok, "{text}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let span = loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            // grpcurl's reflection calls carry the same header: find the GetOrder span.
            .find(|s| {
                s.name == "rpc"
                    && hex::encode(&s.trace_id) == trace
                    && attribute(s, "method").is_some_and(|m| m.ends_with("/GetOrder"))
            })
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(
            Instant::now() < deadline,
            "no rpc span of trace {trace} reached the collector; got {:?}",
            received
                .lock()
                .unwrap()
                .iter()
                .map(|s| &s.name)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(hex::encode(&span.parent_span_id), parent);
    assert_eq!(
        attribute(&span, "method").as_deref(),
        Some("fulfillment.v1.FulfillmentService/GetOrder")
    );
    assert_eq!(attribute(&span, "merchant").as_deref(), Some("m-shenzhen"));
    assert_eq!(
        attribute(&span, "request_id").as_deref(),
        Some("req-otlp-1")
    );
    assert_eq!(attribute(&span, "trace_id").as_deref(), Some(trace));
}
