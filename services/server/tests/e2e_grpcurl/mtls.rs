//! The binary over mutual TLS with caller tokens: who may call what, carrier secrets never
//! echoed, Intelipost pushing over HTTPS, and no secret in a debug-level log.

use std::path::PathBuf;
use std::process::Stdio;

use fulfillment_core::testing::TestDb;

use crate::common::certs::{Ca, write};
use crate::server::{Server, grpcurl_call};

const OPERATOR_TOKEN: &str = "e2e-operator-5b1d9c";
const GATEWAY_TOKEN: &str = "e2e-gateway-krakow-a77e03";
const SERVICE_TOKEN: &str = "e2e-service-settings-c0ffee";
const CARRIER_PASSWORD: &str = "e2e-Poczta-haslo-31f9";
const INTELIPOST_PASSWORD: &str = "e2e-Intelipost-senha-77aa";
const ENCRYPTION_KEYS: &str =
    "e2e:8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

#[test]
fn grpcurl_over_mutual_tls_with_tokens_and_no_secret_in_the_logs() {
    let db = TestDb::new();
    let secured = Secured::start(&db);
    let server = &secured.server;
    tokens_decide_who_may_call(server);
    carrier_answers_never_echo_the_password(server);
    intelipost_pushes_over_https(server, &secured.server_ca_pem);
    nothing_gets_through_without_a_client_certificate(server, &secured.ca);
    let Secured {
        server, log_path, ..
    } = secured;
    drop(server);
    the_logs_hold_no_secret(&log_path);
}

/// A server with its certificates, the callers' tokens, and its log, in a temporary directory.
struct Secured {
    server: Server,
    /// The server CA's file, for grpcurl's `-cacert`.
    ca: String,
    server_ca_pem: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Secured {
    fn start(db: &TestDb) -> Self {
        use fulfillment_server::auth::token_hash_hex;
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
        Self {
            server,
            ca,
            server_ca_pem: server_ca.pem(),
            log_path,
            _dir: dir,
        }
    }
}

/// Reflection and health need no token, but do need the client certificate; each call needs a
/// token whose role and merchant allow it.
fn tokens_decide_who_may_call(server: &Server) {
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
}

/// A merchant connects a carrier account: the answer shows the login, never the password.
fn carrier_answers_never_echo_the_password(server: &Server) {
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
}

/// Intelipost (R12-R14): the settings service records the integration, the merchant ships
/// with the NF-e number, and Intelipost pushes over HTTPS with Basic auth (no client
/// certificate: carriers are not our CA's clients).
fn intelipost_pushes_over_https(server: &Server, server_ca_pem: &str) {
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
    let push = include_str!("../../../carriers/tests/fixtures/intelipost/push_in_transit.json")
        .replace("\"12345\"", "\"35190\"");
    let url = server.webhook_url.clone();
    assert!(url.starts_with("https://"), "{url}");
    let ca_pem = server_ca_pem.to_owned();
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
}

/// Without a client certificate, or in plaintext, nothing gets through.
fn nothing_gets_through_without_a_client_certificate(server: &Server, ca: &str) {
    let no_client_cert = ["-cacert".to_string(), ca.to_owned()];
    let (ok, text) = grpcurl_call(&server.addr, &no_client_cert, &[], &["list"]);
    assert!(!ok, "served a client without a certificate: {text}");
    let (ok, text) = grpcurl_call(&server.addr, &["-plaintext".to_string()], &[], &["list"]);
    assert!(!ok, "served plaintext: {text}");
}

/// Everything the server logged, at debug level, once it has stopped.
fn the_logs_hold_no_secret(log_path: &std::path::Path) {
    let logs = std::fs::read_to_string(log_path).unwrap();
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
