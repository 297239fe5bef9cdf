#![allow(clippy::unwrap_used)]
//! One contract for every tracking client (issue 17), run over each carrier's own fixtures
//! against a local server, as quickwit runs one metastore suite over every backend.
//!
//! A carrier takes part by implementing [`Carrier`] (how to build its client, which request
//! it sends, which of its fixtures answer what) and adding one line to
//! [`tracking_contract_suite!`] at the bottom. Every carrier then gets the same cases:
//!
//! - a real-shape answer parses into the right events (time, our status, the carrier's code);
//! - an unknown number is `NotFound`;
//! - a 5xx is a transient `Carrier` error naming the status;
//! - a slow answer is a `Timeout`;
//! - a malformed body is `Malformed`;
//! - 429 with `Retry-After` is `RateLimited` carrying the delay, so the poller backs off (R22);
//! - the credential the client sends never appears in an error's `Display`/`Debug` nor in a
//!   log line, even when the carrier echoes it back.

mod common;
#[path = "common/logs.rs"]
mod logs;

use std::time::Duration;

use common::*;
use fulfillment_carriers::aftership::{API_KEY_HEADER as AFTERSHIP_KEY_HEADER, AfterShipClient};
use fulfillment_carriers::inpost::InPostClient;
use fulfillment_carriers::intelipost::{API_KEY_HEADER as INTELIPOST_KEY_HEADER, IntelipostClient};
use fulfillment_carriers::poczta_polska::{PocztaPolskaClient, SOAP_ACTION};
use fulfillment_carriers::wishpost::{TRACKING_PATH, WishPostClient};
use fulfillment_carriers::{CarrierConfig, TrackError, TrackingClient, TrackingStatus};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

/// The Poczta Polska password of the suite (its credential is a login, not a key).
const PASSWORD: &str = "Pa55-w0rd-contract-secret";

/// What the suite needs to know about one carrier.
trait Carrier {
    /// The tracking number every case asks about.
    const NUMBER: &'static str;

    /// The client, configured against `server` with the suite's credentials.
    fn client(server: &MockServer) -> Box<dyn TrackingClient>;

    /// The credentials the client sends (and no error or log may show).
    fn secrets() -> Vec<&'static str> {
        vec![KEY]
    }

    /// Matches the request the client sends for [`Carrier::NUMBER`].
    fn request() -> MockBuilder;

    /// A real-shape answer (the carrier's fixture) and the events it must give, in order:
    /// (time, our status, the carrier's code).
    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    );

    /// The carrier's answer for a number it does not know.
    fn unknown_number() -> ResponseTemplate;

    /// A body the carrier's format does not allow.
    fn malformed() -> ResponseTemplate;

    /// An error answer in the carrier's own format that quotes `secret`: its HTTP status,
    /// content type and body.
    fn error_body(secret: &str) -> (u16, &'static str, String);
}

fn with_key(server: &MockServer) -> CarrierConfig {
    config(server)
}

struct WishPost;

impl Carrier for WishPost {
    const NUMBER: &'static str = "LM123456789CN";

    fn client(server: &MockServer) -> Box<dyn TrackingClient> {
        Box::new(WishPostClient::new(with_key(server)).unwrap())
    }

    fn request() -> MockBuilder {
        Mock::given(method("POST")).and(path(TRACKING_PATH))
    }

    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    ) {
        use TrackingStatus::*;
        (
            xml(200, fixture("wishpost/modelled_from_schema_tracking.xml")),
            vec![
                ("2024-03-01T01:12:00Z", InfoReceived, "1"),
                ("2024-03-01T10:40:00Z", InTransit, "2"),
                ("2024-03-03T18:05:00Z", InTransit, "16"),
                ("2024-03-02T00:30:00Z", InTransit, "3"),
                ("2024-03-12T13:22:00Z", Delivered, "23"),
            ],
        )
    }

    fn unknown_number() -> ResponseTemplate {
        xml(
            200,
            fixture("wishpost/modelled_from_schema_invalid_barcode.xml"),
        )
    }

    fn malformed() -> ResponseTemplate {
        xml(200, fixture("wishpost/modelled_from_schema_malformed.xml"))
    }

    fn error_body(secret: &str) -> (u16, &'static str, String) {
        (
            200,
            XML,
            format!(
                "<root><status>3</status><error_message>rejected {secret}</error_message></root>"
            ),
        )
    }
}

struct InPost;

impl Carrier for InPost {
    const NUMBER: &'static str = "520113017830399002575123";

    fn client(server: &MockServer) -> Box<dyn TrackingClient> {
        Box::new(InPostClient::new(with_key(server)).unwrap())
    }

    fn request() -> MockBuilder {
        Mock::given(method("GET")).and(path(format!("/v1/tracking/{}", Self::NUMBER).as_str()))
    }

    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    ) {
        use TrackingStatus::*;
        (
            json(200, fixture("inpost/tracking.json")),
            vec![
                ("2016-08-25T10:41:09Z", Delivered, "delivered"),
                (
                    "2016-08-24T13:02:11Z",
                    AvailableForPickup,
                    "ready_to_pickup",
                ),
                (
                    "2016-08-24T03:12:40Z",
                    InTransit,
                    "adopted_at_sorting_center",
                ),
                ("2016-08-24T07:30:00Z", OutForDelivery, "out_for_delivery"),
                ("2016-08-23T14:20:00Z", InTransit, "dispatched_by_sender"),
                ("2016-08-23T08:00:00Z", InfoReceived, "confirmed"),
            ],
        )
    }

    fn unknown_number() -> ResponseTemplate {
        json(404, fixture("inpost/not_found.json"))
    }

    fn malformed() -> ResponseTemplate {
        json(200, fixture("inpost/malformed.json"))
    }

    fn error_body(secret: &str) -> (u16, &'static str, String) {
        (
            400,
            JSON,
            format!(
                r#"{{"status":400,"error":"token_invalid","message":"bad token {secret}","details":{{}}}}"#
            ),
        )
    }
}

struct PocztaPolska;

impl Carrier for PocztaPolska {
    const NUMBER: &'static str = "00659007734210841438";

    fn client(server: &MockServer) -> Box<dyn TrackingClient> {
        let mut config = config(server);
        config.base_url = format!("{}/Sledzenie/services/Sledzenie", server.uri());
        config.api_key = None;
        config.username = Some("shop-account".into());
        config.password = Some(PASSWORD.into());
        Box::new(PocztaPolskaClient::new(config).unwrap())
    }

    fn secrets() -> Vec<&'static str> {
        vec![PASSWORD]
    }

    fn request() -> MockBuilder {
        Mock::given(method("POST"))
            .and(path("/Sledzenie/services/Sledzenie"))
            .and(header("soapaction", SOAP_ACTION))
    }

    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    ) {
        use TrackingStatus::*;
        (
            xml(200, fixture("poczta_polska/tracking.xml")),
            vec![
                ("2024-03-28T13:05:00Z", InTransit, "P_NAD"),
                ("2024-03-28T20:40:00Z", InTransit, "P_WZL"),
                ("2024-03-29T03:12:00Z", InTransit, "P_PZL"),
                ("2024-03-29T05:30:00Z", InTransit, "P_WZL"),
                ("2024-03-29T22:50:00Z", InTransit, "P_PZL"),
                ("2024-04-01T05:45:00Z", OutForDelivery, "P_WD"),
                ("2024-04-02T09:20:00Z", Delivered, "P_D"),
                ("2024-04-01T08:05:00Z", AvailableForPickup, "P_A"),
            ],
        )
    }

    fn unknown_number() -> ResponseTemplate {
        xml(200, fixture("poczta_polska/not_found.xml"))
    }

    fn malformed() -> ResponseTemplate {
        xml(200, fixture("poczta_polska/malformed.xml"))
    }

    fn error_body(secret: &str) -> (u16, &'static str, String) {
        (
            500,
            XML,
            format!(
                "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>bad input: {secret}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            ),
        )
    }
}

struct AfterShip;

impl Carrier for AfterShip {
    const NUMBER: &'static str = "3SKABC1234567";

    fn client(server: &MockServer) -> Box<dyn TrackingClient> {
        Box::new(AfterShipClient::new("postnl-3s", with_key(server)).unwrap())
    }

    fn request() -> MockBuilder {
        Mock::given(method("GET"))
            .and(path(
                format!("/v4/trackings/postnl-3s/{}", Self::NUMBER).as_str(),
            ))
            .and(header(AFTERSHIP_KEY_HEADER, KEY))
    }

    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    ) {
        use TrackingStatus::*;
        (
            json(200, fixture("aftership/tracking_postnl_in_transit.json")),
            vec![
                ("2024-04-04T09:02:33Z", InfoReceived, "InfoReceived_001"),
                ("2024-04-05T15:20:00Z", InTransit, "InTransit_001"),
                ("2024-04-05T17:45:10Z", InTransit, "InTransit_001"),
                ("2024-04-07T07:15:00Z", InTransit, "InTransit_004"),
            ],
        )
    }

    fn unknown_number() -> ResponseTemplate {
        json(404, fixture("aftership/not_found.json"))
    }

    fn malformed() -> ResponseTemplate {
        json(200, fixture("aftership/malformed.json"))
    }

    fn error_body(secret: &str) -> (u16, &'static str, String) {
        (
            400,
            JSON,
            format!(
                r#"{{"meta":{{"code":4003,"message":"bad request for {secret}","type":"BadRequest"}},"data":{{}}}}"#
            ),
        )
    }
}

/// Intelipost's polling client, owned elsewhere (`src/intelipost/`): the suite runs over
/// it with its existing fixtures.
struct Intelipost;

impl Carrier for Intelipost {
    const NUMBER: &'static str = "12345";

    fn client(server: &MockServer) -> Box<dyn TrackingClient> {
        Box::new(IntelipostClient::new(with_key(server)).unwrap())
    }

    fn request() -> MockBuilder {
        Mock::given(method("GET"))
            .and(path(
                format!("/api/v1/shipment_order/invoice/{}", Self::NUMBER).as_str(),
            ))
            .and(header(INTELIPOST_KEY_HEADER, KEY))
    }

    fn real_answer() -> (
        ResponseTemplate,
        Vec<(&'static str, TrackingStatus, &'static str)>,
    ) {
        use TrackingStatus::*;
        (
            json(200, fixture("intelipost/shipment_order.json")),
            vec![
                ("2016-06-30T13:00:00Z", InfoReceived, "NEW"),
                ("2016-07-01T20:22:00Z", InTransit, "IN_TRANSIT"),
                ("2016-07-04T16:40:00Z", Delivered, "DELIVERED"),
                ("2016-07-01T13:00:00Z", InfoReceived, "SHIPPED"),
            ],
        )
    }

    fn unknown_number() -> ResponseTemplate {
        json(400, fixture("intelipost/not_found.json"))
    }

    fn malformed() -> ResponseTemplate {
        json(200, fixture("intelipost/malformed.json"))
    }

    fn error_body(secret: &str) -> (u16, &'static str, String) {
        (
            400,
            JSON,
            format!(
                r#"{{"status":"ERROR","messages":[{{"type":"ERROR","text":"invalid request {secret}","key":"request.invalid"}}],"content":{{}}}}"#
            ),
        )
    }
}

const XML: &str = "text/xml; charset=UTF-8";
const JSON: &str = "application/json";

/// [`Carrier::error_body`] as an answer.
fn echo<C: Carrier>(secret: &str) -> ResponseTemplate {
    let (status, content_type, body) = C::error_body(secret);
    ResponseTemplate::new(status).set_body_raw(body, content_type)
}

/// Serves `template` to the carrier's request (exactly once) and tracks the number.
async fn answer<C: Carrier>(
    template: ResponseTemplate,
) -> (
    MockServer,
    Result<fulfillment_carriers::TrackReport, TrackError>,
) {
    let server = MockServer::start().await;
    C::request()
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    let result = C::client(&server).track(C::NUMBER).await;
    (server, result)
}

async fn real_shape_answer<C: Carrier>() {
    let (template, expected) = C::real_answer();
    let (_server, result) = answer::<C>(template).await;
    let report = result.unwrap();
    let got: Vec<_> = report
        .events
        .iter()
        .map(|e| (e.occurred_at, e.status, e.carrier_status_code.as_str()))
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|(at, status, code)| (utc(at), *status, *code))
        .collect();
    assert_eq!(got, want);
    for event in &report.events {
        assert!(!event.raw_payload.is_empty(), "{event:?}");
    }
}

async fn unknown_number_is_not_found<C: Carrier>() {
    let (_server, result) = answer::<C>(C::unknown_number()).await;
    assert_eq!(result.unwrap_err(), TrackError::NotFound);
}

async fn server_error_is_transient<C: Carrier>() {
    let template = ResponseTemplate::new(503).set_body_raw("upstream unavailable", "text/plain");
    let (_server, result) = answer::<C>(template).await;
    let err = result.unwrap_err();
    assert_carrier_status(&err, 503);
    assert!(err.is_transient());
}

async fn slow_answer_times_out<C: Carrier>() {
    let (template, _) = C::real_answer();
    let (_server, result) = answer::<C>(slow(template)).await;
    let err = result.unwrap_err();
    assert_eq!(err, TrackError::Timeout);
    assert!(err.is_transient());
}

async fn malformed_body_is_malformed<C: Carrier>() {
    let (_server, result) = answer::<C>(C::malformed()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
    let (_server, result) = answer::<C>(json(200, "[1, 2".into())).await;
    let err = result.unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

async fn rate_limit_carries_retry_after<C: Carrier>() {
    let (_server, result) = answer::<C>(rate_limited()).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        TrackError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    // With a body of the carrier's own error format, the header still wins.
    let (_, content_type, body) = C::error_body("slow down");
    let template = ResponseTemplate::new(429)
        .set_body_raw(body, content_type)
        .insert_header("Retry-After", "120");
    let (_server, result) = answer::<C>(template).await;
    assert_eq!(
        result.unwrap_err().retry_after(),
        Some(Duration::from_secs(120))
    );
}

async fn no_credential_in_errors_or_logs<C: Carrier>() {
    let (logs, _guard) = logs::capture();
    tracing::warn!("capture probe");
    let mut errors = Vec::new();
    for secret in C::secrets() {
        let cases = [
            echo::<C>(secret),
            ResponseTemplate::new(500)
                .set_body_raw(format!("stack trace: key={secret}"), "text/plain"),
            ResponseTemplate::new(400).set_body_raw(format!("<h1>bad {secret}</h1>"), "text/html"),
            ResponseTemplate::new(200)
                .set_body_raw(format!("not the format {secret}"), "text/plain"),
        ];
        for template in cases {
            let (server, result) = answer::<C>(template).await;
            // The client does send the credential, so the check below is not vacuous.
            let requests = server.received_requests().await.unwrap();
            let sent = requests.iter().any(|r| {
                String::from_utf8_lossy(&r.body).contains(secret)
                    || r.headers
                        .values()
                        .any(|v| v.to_str().is_ok_and(|v| v.contains(secret)))
            });
            assert!(sent, "the client did not send its credential");
            errors.push(result.unwrap_err());
        }
    }
    let (template, _) = C::real_answer();
    let (_server, result) = answer::<C>(template).await;
    result.unwrap();
    for err in &errors {
        assert_no_secret(err, &C::secrets());
    }
    let text = logs.text();
    assert!(
        text.contains("capture probe"),
        "the log capture works: {text}"
    );
    for secret in C::secrets() {
        assert!(
            !text.contains(secret),
            "a log line shows a credential: {text}"
        );
    }
}

/// Runs every case over every carrier: one module per carrier, one test per case.
macro_rules! tracking_contract_suite {
    ($($module:ident => $carrier:ty),* $(,)?) => {
        $(
            mod $module {
                use super::*;

                #[tokio::test]
                async fn real_shape_answer() {
                    super::real_shape_answer::<$carrier>().await;
                }

                #[tokio::test]
                async fn unknown_number_is_not_found() {
                    super::unknown_number_is_not_found::<$carrier>().await;
                }

                #[tokio::test]
                async fn server_error_is_transient() {
                    super::server_error_is_transient::<$carrier>().await;
                }

                #[tokio::test]
                async fn slow_answer_times_out() {
                    super::slow_answer_times_out::<$carrier>().await;
                }

                #[tokio::test]
                async fn malformed_body_is_malformed() {
                    super::malformed_body_is_malformed::<$carrier>().await;
                }

                #[tokio::test]
                async fn rate_limit_carries_retry_after() {
                    super::rate_limit_carries_retry_after::<$carrier>().await;
                }

                #[tokio::test]
                async fn no_credential_in_errors_or_logs() {
                    super::no_credential_in_errors_or_logs::<$carrier>().await;
                }
            }
        )*
    };
}

tracking_contract_suite! {
    wishpost => WishPost,
    inpost => InPost,
    poczta_polska => PocztaPolska,
    aftership => AfterShip,
    intelipost => Intelipost,
}
