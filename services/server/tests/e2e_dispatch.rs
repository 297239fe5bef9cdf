//! End to end, the way a merchant's tools and operators work: the built `fulfillment-server`
//! binary, driven by the real `grpcurl`, dispatching to the three carriers faked by wiremock
//! (R19, R20). Connect each carrier, create shipments for a batch of orders, fetch the labels;
//! and no secret ever shows in an answer or in the server's logs at debug level.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use common::carrier_fakes::{EchoGuid, fixture, soap, xml};
use common::child::{ServerChild, run_grpcurl, server_command};
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

struct Server {
    /// Killed and reaped when the server is dropped.
    _child: ServerChild,
    addr: String,
}

impl Server {
    /// Starts the binary (demo data, tokens, key ring, dispatch at the fakes), logging at
    /// debug level to `log`; waits until it listens.
    fn start(database_url: &str, tokens: &str, env: &[(&str, String)], log: Stdio) -> Self {
        let mut command = server_command();
        command
            .args(["--demo", "--auth-tokens-file", tokens])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "debug")
            .env("FULFILLMENT_ENCRYPTION_KEYS", ENCRYPTION_KEYS)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stderr(log);
        let child = ServerChild::start(command);
        Self {
            addr: child.addr.to_string(),
            _child: child,
        }
    }

    /// `grpcurl -plaintext -H auth -d body ADDR method`: success, and what it printed.
    fn call(&self, token: &str, method: &str, body: &str) -> (bool, String) {
        run_grpcurl([
            "-plaintext",
            "-H",
            &format!("authorization: Bearer {token}"),
            "-d",
            body,
            &self.addr,
            &format!("fulfillment.v1.FulfillmentService/{method}"),
        ])
    }

    fn json(&self, token: &str, method: &str, body: &str) -> Value {
        let (ok, text) = self.call(token, method, body);
        assert!(ok, "{method} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: {e}: {text}"))
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
    let mut d = Driver {
        server,
        printed: String::new(),
    };
    let (inpost, poczta, ruch) = connects_each_carrier(&mut d);
    for n in 1..=5 {
        d.json(
            SERVICE_TOKEN,
            "ReleaseOrder",
            &format!(
                r#"{{"order_id":"e2e-d{n}","merchant_id":"m-krakow","shipping_detail":{{"name":"Anna Kowalska","street_address1":"ul. Długa 5/3","city":"Kraków","zipcode":"30-001","country":"PL","phone_number":"+48 501 202 303"}}}}"#
            ),
        );
    }
    ships_a_batch_through_inpost(&mut d, &inpost);
    ships_a_parcel_through_poczta_polska(&mut d, &poczta);
    a_revoked_key_is_fixed_then_ships(&mut d, &ruch);
    labels_one_pdf_per_order(&mut d);
    another_merchant_cannot_dispatch(&mut d, &inpost);
    d.printed
}

/// Calls the server, keeping everything grpcurl printed for the secret check.
struct Driver<'a> {
    server: &'a Server,
    printed: String,
}

impl Driver<'_> {
    fn json(&mut self, token: &str, method: &str, body: &str) -> Value {
        let value = self.server.json(token, method, body);
        self.printed.push_str(&value.to_string());
        value
    }
}

fn account_id(account: &Value) -> String {
    account["account"]["id"].as_str().unwrap().to_owned()
}

fn ruch_body(key: &str) -> String {
    format!(
        r#"{{"merchant_id":"m-krakow","paczka_w_ruchu":{{"partner_id":"P-100","partner_key":"{key}","default_size":"M"}}}}"#
    )
}

/// A merchant connects each carrier (Paczka w Ruchu with the revoked key); their account ids.
fn connects_each_carrier(d: &mut Driver) -> (String, String, String) {
    let g = GATEWAY_TOKEN;
    let inpost = d.json(
        g,
        "ConnectCarrierAccount",
        &format!(
            r#"{{"merchant_id":"m-krakow","inpost":{{"organization_id":"5123","api_token":"{INPOST_TOKEN}","default_template":"small","send_from_locker":true,"sending_locker":"WAW01A"}}}}"#
        ),
    );
    let poczta = d.json(
        g,
        "ConnectCarrierAccount",
        &format!(
            r#"{{"merchant_id":"m-krakow","poczta_polska":{{"login":"sklep-krakow","password":"{PP_PASSWORD}","account_kind":"POCZTA_POLSKA_ACCOUNT_KIND_REGULAR","default_sizes":{{"pocztex":"M"}}}}}}"#
        ),
    );
    let ruch = d.json(g, "ConnectCarrierAccount", &ruch_body(PWR_BAD_KEY));
    (account_id(&inpost), account_id(&poczta), account_id(&ruch))
}

fn ships_a_batch_through_inpost(d: &mut Driver, inpost: &str) {
    let g = GATEWAY_TOKEN;
    // A batch through InPost: all three shipped.
    let batch = d.json(
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
    let shipped = d.json(
        g,
        "GetOrder",
        r#"{"merchant_id":"m-krakow","order_id":"e2e-d2"}"#,
    );
    assert_eq!(
        shipped["order"]["state"], "ORDER_STATE_SHIPPED",
        "{shipped}"
    );
    assert_eq!(shipped["order"]["tracking"]["carrier"], "inpost");
}

/// Poczta Polska: a parcel with its weight.
fn ships_a_parcel_through_poczta_polska(d: &mut Driver, poczta: &str) {
    let g = GATEWAY_TOKEN;
    let one = d.json(
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
}

/// Paczka w Ruchu with a revoked key: the merchant is told to fix the account (R19), then
/// fixes it and the same request goes through.
fn a_revoked_key_is_fixed_then_ships(d: &mut Driver, ruch: &str) {
    let g = GATEWAY_TOKEN;
    let ruch_request = format!(
        r#"{{"merchant_id":"m-krakow","account_id":"{ruch}","order_ids":["e2e-d5"],"target_points":{{"e2e-d5":"KR-116263"}},"sender":{{"name":"Jan Nowak","street_address1":"Prosta 1","city":"Warszawa","zipcode":"00-838","country":"PL","phone_number":"500600700"}},"sender_email":"sklep@example.com"}}"#
    );
    let rejected = d.json(g, "CreateShipments", &ruch_request);
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
    let fixed = d.json(g, "ConnectCarrierAccount", &ruch_body(PWR_KEY));
    assert_eq!(
        account_id(&fixed),
        ruch,
        "the same account, with its new key"
    );
    let created = d.json(g, "CreateShipments", &ruch_request);
    assert_eq!(
        created["results"][0]["outcome"], "SHIPMENT_OUTCOME_CREATED",
        "{created}"
    );
    // Again without confirmation: skipped (R20).
    let again = d.json(g, "CreateShipments", &ruch_request);
    assert_eq!(again["results"][0]["outcome"], "SHIPMENT_OUTCOME_SKIPPED");
}

/// Labels: one PDF per order, and a clear reason for the one the carrier no longer keeps.
fn labels_one_pdf_per_order(d: &mut Driver) {
    let g = GATEWAY_TOKEN;
    let labels = d.json(
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
    let single = d.json(
        g,
        "GetLabels",
        r#"{"merchant_id":"m-krakow","order_ids":["e2e-d4"]}"#,
    );
    assert!(
        decoded_pdf(&single["pdf"]).starts_with(b"%PDF-"),
        "{single}"
    );
}

/// Another merchant's caller cannot dispatch for this one.
fn another_merchant_cannot_dispatch(d: &mut Driver, inpost: &str) {
    let (ok, text) = d.server.call(
        GATEWAY_TOKEN,
        "CreateShipments",
        &format!(
            r#"{{"merchant_id":"m-shenzhen","account_id":"{inpost}","order_ids":["o-cn-1"]}}"#
        ),
    );
    assert!(!ok && text.contains("PermissionDenied"), "{text}");
    d.printed.push_str(&text);
}
