//! End to end, the way a merchant's tools and operators work: the built `fulfillment-server`
//! binary, driven by the real `grpcurl`, dispatching to the three carriers faked by wiremock
//! (R19, R20). Connect each carrier, create shipments for a batch of orders, fetch the labels;
//! and no secret ever shows in an answer or in the server's logs at debug level.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fulfillment_carriers::dispatch::{paczka_w_ruchu, poczta_polska};
use fulfillment_core::testing::TestDb;
use fulfillment_server::auth::token_hash_hex;
use serde_json::Value;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SERVICE_TOKEN: &str = "e2e-dispatch-service-4be1";
const GATEWAY_TOKEN: &str = "e2e-dispatch-gateway-krakow-90ad";
const ENCRYPTION_KEYS: &str =
    "e2e:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";
const INPOST_TOKEN: &str = "e2e-ShipX-token-7d41c0ffee";
const PP_PASSWORD: &str = "e2e-EN-haslo-5c2a";
const PWR_KEY: &str = "e2e-PwR-partner-key-19be";
const PWR_BAD_KEY: &str = "e2e-PwR-revoked-key-44aa";
const EN_PATH: &str = "/websrv/en.php";
const PWR_PATH: &str = "/WebServicePwR.asmx";

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

fn fixture(name: &str) -> String {
    let full = format!(
        "{}/../carriers/tests/fixtures/dispatch/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
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
    /// Starts the binary (demo data, tokens, key ring, dispatch at the fakes), logging at
    /// debug level to `log`; waits until it listens.
    fn start(database_url: &str, tokens: &str, env: &[(&str, String)], log: Stdio) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulfillment-server"))
            .args([
                "--listen",
                &addr,
                "--webhook-listen",
                "127.0.0.1:0",
                "--demo",
                "--auth-tokens-file",
                tokens,
            ])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "debug")
            .env("FULFILLMENT_ENCRYPTION_KEYS", ENCRYPTION_KEYS)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start fulfillment-server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "server did not start in time");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("Intelipost webhook: POST ") => {
                    std::thread::spawn(move || lines.for_each(drop));
                    break;
                }
                Some(Ok(_)) => {}
                _ => panic!("server exited before listening: {:?}", child.try_wait()),
            }
        }
        Self { child, addr }
    }

    /// `grpcurl -plaintext -H auth -d body ADDR method`: success, and what it printed.
    fn call(&self, token: &str, method: &str, body: &str) -> (bool, String) {
        let out = Command::new(grpcurl())
            .args([
                "-plaintext",
                "-H",
                &format!("authorization: Bearer {token}"),
                "-d",
                body,
                &self.addr,
                &format!("fulfillment.v1.FulfillmentService/{method}"),
            ])
            .output()
            .expect("run grpcurl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn json(&self, token: &str, method: &str, body: &str) -> Value {
        let (ok, text) = self.call(token, method, body);
        assert!(ok, "{method} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ShipX: every new shipment bought at once, each with its own id and tracking number.
#[derive(Clone, Default)]
struct ShipX(Arc<AtomicUsize>);

impl Respond for ShipX {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let body = fixture("inpost/shipment_confirmed.json")
            .replace("49201373", &format!("{}", 49_200_000 + n))
            .replace("520000011395200025754311", &format!("52{n:022}"));
        ResponseTemplate::new(201).set_body_raw(body, "application/json")
    }
}

/// EN echoes the guid it was sent; the number is a UPU S10 one.
struct EchoGuid;

impl Respond for EchoGuid {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        let guid = body
            .split("guid=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("none")
            .to_owned();
        xml(fixture("poczta_polska/add_shipment_ok.xml")
            .replace("{GUID}", &guid)
            .replace("00659007734100020216", "RR123456785PL"))
    }
}

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/xml; charset=utf-8")
}

fn soap(action: String) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(header("soapaction", action.as_str()))
}

async fn fakes() -> (MockServer, MockServer, MockServer) {
    let (inpost, poczta, ruch) = tokio::join!(
        MockServer::start(),
        MockServer::start(),
        MockServer::start()
    );
    Mock::given(method("POST"))
        .and(path("/v1/organizations/5123/shipments"))
        .and(header(
            "authorization",
            format!("Bearer {INPOST_TOKEN}").as_str(),
        ))
        .respond_with(ShipX::default())
        .expect(3)
        .mount(&inpost)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/shipments/\d+/label$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("inpost/label.pdf"), "application/pdf"),
        )
        .mount(&inpost)
        .await;
    soap(poczta_polska::soap_action("addShipment"))
        .and(path(EN_PATH))
        .respond_with(EchoGuid)
        .expect(1)
        .mount(&poczta)
        .await;
    soap(poczta_polska::soap_action("getAddresLabelByGuid"))
        .respond_with(xml(fixture("poczta_polska/label.xml")))
        .mount(&poczta)
        .await;
    // Paczka w Ruchu takes the good key and rejects the revoked one (R19).
    soap(paczka_w_ruchu::soap_action("GenerateLabelBusinessPack"))
        .and(path(PWR_PATH))
        .and(body_string_contains(PWR_BAD_KEY))
        .respond_with(xml(fixture("paczka_w_ruchu/credentials_rejected.xml")))
        .with_priority(1)
        .expect(1)
        .mount(&ruch)
        .await;
    soap(paczka_w_ruchu::soap_action("GenerateLabelBusinessPack"))
        .and(path(PWR_PATH))
        .respond_with(xml(fixture("paczka_w_ruchu/generate_label_ok.xml")))
        .expect(1)
        .mount(&ruch)
        .await;
    // The label the fake no longer keeps.
    soap(paczka_w_ruchu::soap_action("LabelPrintDuplicate"))
        .respond_with(xml(fixture("paczka_w_ruchu/label_gone_modelled.xml")))
        .mount(&ruch)
        .await;
    (inpost, poczta, ruch)
}

fn decoded_pdf(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_connects_three_carriers_ships_a_batch_gets_labels_and_logs_no_secret() {
    let (inpost, poczta, ruch) = fakes().await;
    let db = tokio::task::spawn_blocking(TestDb::new).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!(
            "service {}\nmerchant-gateway {} m-krakow\n",
            token_hash_hex(SERVICE_TOKEN),
            token_hash_hex(GATEWAY_TOKEN)
        ),
    )
    .unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("FULFILLMENT_DISPATCH_INPOST_URL", inpost.uri()),
        (
            "FULFILLMENT_DISPATCH_POCZTA_POLSKA_URL",
            format!("{}{EN_PATH}", poczta.uri()),
        ),
        (
            "FULFILLMENT_DISPATCH_PACZKA_W_RUCHU_URL",
            format!("{}{PWR_PATH}", ruch.uri()),
        ),
        ("FULFILLMENT_DISPATCH_TIMEOUT_MS", "5000".to_owned()),
    ];
    let url = db.url().to_owned();
    let tokens_path = tokens.display().to_string();
    // grpcurl and the server are blocking processes; the fakes answer from their own threads.
    let (answers, logs) = tokio::task::spawn_blocking(move || {
        let server = Server::start(&url, &tokens_path, &env, Stdio::from(log));
        let answers = drive(&server);
        drop(server);
        (answers, std::fs::read_to_string(&log_path).unwrap())
    })
    .await
    .unwrap();

    assert!(
        logs.contains("dispatch result") && logs.contains("DEBUG"),
        "the server did not log dispatch at debug level: {logs}"
    );
    let key_hex = ENCRYPTION_KEYS.split_once(':').unwrap().1;
    for secret in [
        INPOST_TOKEN,
        PP_PASSWORD,
        PWR_KEY,
        PWR_BAD_KEY,
        SERVICE_TOKEN,
        GATEWAY_TOKEN,
        key_hex,
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
        assert!(
            !answers.contains(secret),
            "an answer contains {secret:?}: {answers}"
        );
    }
}

/// Every grpcurl step; returns everything grpcurl printed, for the secret check.
fn drive(server: &Server) -> String {
    let mut printed = String::new();
    let mut json = |token: &str, method: &str, body: &str| {
        let value = server.json(token, method, body);
        printed.push_str(&value.to_string());
        value
    };
    let g = GATEWAY_TOKEN;

    // A merchant connects each carrier.
    let inpost = json(
        g,
        "ConnectCarrierAccount",
        &format!(
            r#"{{"merchant_id":"m-krakow","inpost":{{"organization_id":"5123","api_token":"{INPOST_TOKEN}","default_template":"small","send_from_locker":true,"sending_locker":"WAW01A"}}}}"#
        ),
    );
    let poczta = json(
        g,
        "ConnectCarrierAccount",
        &format!(
            r#"{{"merchant_id":"m-krakow","poczta_polska":{{"login":"sklep-krakow","password":"{PP_PASSWORD}","account_kind":"POCZTA_POLSKA_ACCOUNT_KIND_REGULAR","default_sizes":{{"pocztex":"M"}}}}}}"#
        ),
    );
    let ruch_body = |key: &str| {
        format!(
            r#"{{"merchant_id":"m-krakow","paczka_w_ruchu":{{"partner_id":"P-100","partner_key":"{key}","default_size":"M"}}}}"#
        )
    };
    let ruch = json(g, "ConnectCarrierAccount", &ruch_body(PWR_BAD_KEY));
    let id = |account: &Value| account["account"]["id"].as_str().unwrap().to_owned();
    let (inpost, poczta, ruch) = (id(&inpost), id(&poczta), id(&ruch));

    for n in 1..=5 {
        json(
            SERVICE_TOKEN,
            "ReleaseOrder",
            &format!(
                r#"{{"order_id":"e2e-d{n}","merchant_id":"m-krakow","shipping_detail":{{"name":"Anna Kowalska","street_address1":"ul. Długa 5/3","city":"Kraków","zipcode":"30-001","country":"PL","phone_number":"+48 501 202 303"}}}}"#
            ),
        );
    }

    // A batch through InPost: all three shipped.
    let batch = json(
        g,
        "CreateShipments",
        &format!(
            r#"{{"merchant_id":"m-krakow","account_id":"{inpost}","order_ids":["e2e-d1","e2e-d2","e2e-d3"]}}"#
        ),
    );
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{batch}");
    for r in results {
        assert_eq!(r["outcome"], "SHIPMENT_OUTCOME_CREATED", "{batch}");
        assert_eq!(r["carrier"], "inpost");
    }
    let shipped = json(
        g,
        "GetOrder",
        r#"{"merchant_id":"m-krakow","order_id":"e2e-d2"}"#,
    );
    assert_eq!(
        shipped["order"]["state"], "ORDER_STATE_SHIPPED",
        "{shipped}"
    );
    assert_eq!(shipped["order"]["tracking"]["carrier"], "inpost");

    // Poczta Polska: a parcel with its weight.
    let one = json(
        g,
        "CreateShipments",
        &format!(
            r#"{{"merchant_id":"m-krakow","account_id":"{poczta}","order_ids":["e2e-d4"],"weight_grams":1200}}"#
        ),
    );
    assert_eq!(
        one["results"][0]["outcome"], "SHIPMENT_OUTCOME_CREATED",
        "{one}"
    );
    assert_eq!(one["results"][0]["trackingNumber"], "RR123456785PL");

    // Paczka w Ruchu with a revoked key: the merchant is told to fix the account (R19), then
    // fixes it and the same request goes through.
    let ruch_request = format!(
        r#"{{"merchant_id":"m-krakow","account_id":"{ruch}","order_ids":["e2e-d5"],"target_points":{{"e2e-d5":"KR-116263"}},"sender":{{"name":"Jan Nowak","street_address1":"Prosta 1","city":"Warszawa","zipcode":"00-838","country":"PL","phone_number":"500600700"}},"sender_email":"sklep@example.com"}}"#
    );
    let rejected = json(g, "CreateShipments", &ruch_request);
    assert_eq!(
        rejected["results"][0]["outcome"], "SHIPMENT_OUTCOME_FAILED",
        "{rejected}"
    );
    assert_eq!(
        rejected["results"][0]["reason"],
        "CARRIER_CREDENTIALS_REJECTED"
    );
    assert!(
        rejected["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("must fix them"),
        "{rejected}"
    );
    let fixed = json(g, "ConnectCarrierAccount", &ruch_body(PWR_KEY));
    assert_eq!(id(&fixed), ruch, "the same account, with its new key");
    let created = json(g, "CreateShipments", &ruch_request);
    assert_eq!(
        created["results"][0]["outcome"], "SHIPMENT_OUTCOME_CREATED",
        "{created}"
    );
    // Again without confirmation: skipped (R20).
    let again = json(g, "CreateShipments", &ruch_request);
    assert_eq!(again["results"][0]["outcome"], "SHIPMENT_OUTCOME_SKIPPED");

    // Labels: one PDF per order, and a clear reason for the one the carrier no longer keeps.
    let labels = json(
        g,
        "GetLabels",
        r#"{"merchant_id":"m-krakow","order_ids":["e2e-d1","e2e-d2","e2e-d3","e2e-d4","e2e-d5"]}"#,
    );
    let got = labels["labels"].as_array().unwrap();
    assert_eq!(got.len(), 4, "{labels}");
    for label in got {
        assert!(decoded_pdf(&label["pdf"]).starts_with(b"%PDF-"), "{label}");
    }
    assert_eq!(labels["unavailable"][0]["orderId"], "e2e-d5");
    assert_eq!(labels["unavailable"][0]["reason"], "LABEL_GONE");
    let single = json(
        g,
        "GetLabels",
        r#"{"merchant_id":"m-krakow","order_ids":["e2e-d4"]}"#,
    );
    assert!(
        decoded_pdf(&single["pdf"]).starts_with(b"%PDF-"),
        "{single}"
    );

    // Another merchant's caller cannot dispatch for this one.
    let (ok, text) = server.call(
        g,
        "CreateShipments",
        &format!(
            r#"{{"merchant_id":"m-shenzhen","account_id":"{inpost}","order_ids":["o-cn-1"]}}"#
        ),
    );
    assert!(!ok && text.contains("PermissionDenied"), "{text}");
    printed.push_str(&text);
    printed
}
