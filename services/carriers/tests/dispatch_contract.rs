//! One contract for every dispatch client (R19, R20), run over each carrier's fixtures with
//! wiremock, as quickwit runs one `metastore_test_suite!` over every metastore backend.
//!
//! A carrier joins by implementing [`Contract`] (its client, a request it accepts, and the
//! answers of its real API: fixtures under `fixtures/dispatch/<carrier>/`, sources in their
//! README) and adding one `dispatch_contract_suite!` line at the bottom. Every carrier then
//! has to: create a shipment from a real-shape answer with its tracking number; name the field
//! of a validation refusal; say rejected credentials must be fixed; read 5xx as unavailable, a
//! slow answer as a timeout, a body it cannot read as malformed, 429 as a rate limit with its
//! `Retry-After`; report a label the carrier no longer keeps as gone; and never show a
//! credential in an error's `Display`/`Debug` or in a log line, even when the carrier echoes
//! it. What only one carrier does stays in its own `dispatch_<carrier>.rs`.
#![allow(clippy::unwrap_used)]

#[path = "common/dispatch.rs"]
mod dispatch_common;

use std::collections::BTreeMap;
use std::time::Duration;

use dispatch_common::*;
use fulfillment_carriers::dispatch::inpost::{InPostDispatcher, InPostSettings};
use fulfillment_carriers::dispatch::paczka_w_ruchu::{
    self, PaczkaWRuchuDispatcher, PaczkaWRuchuSettings,
};
use fulfillment_carriers::dispatch::poczta_polska::{
    self, PocztaAccountKind, PocztaPolskaDispatcher, PocztaPolskaSettings,
};
use fulfillment_carriers::dispatch::{
    DispatchError, Dispatcher, Secret, ShipmentRef, ShipmentRequest, ShipmentType,
};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{MockBuilder, Request, Respond, ResponseTemplate};

/// An answer built from the request (Elektroniczny Nadawca echoes the guid it was sent).
pub struct Answer(pub fn(&Request) -> ResponseTemplate);

impl Respond for Answer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        (self.0)(request)
    }
}

/// What one dispatch carrier gives the suite.
pub trait Contract {
    /// Every credential of the test account; none may ever be shown.
    const SECRETS: &'static [&'static str];
    /// The tracking number in [`Contract::created`].
    const TRACKING_NUMBER: &'static str;
    /// The field of our request [`Contract::validation_refusal`] is about.
    const REFUSED_FIELD: &'static str;

    /// The client, with [`TIMEOUT`].
    fn client(base: &str) -> Box<dyn Dispatcher>;
    /// A request the client sends without complaint.
    fn request() -> ShipmentRequest;
    /// A shipment created earlier, for the label.
    fn shipment() -> ShipmentRef;
    /// Matches the create call (method, path, operation, credentials).
    fn create_call() -> MockBuilder;
    /// Matches the label call.
    fn label_call() -> MockBuilder;

    /// The carrier's real-shape answer to a create that succeeds.
    fn created(request: &Request) -> ResponseTemplate;
    /// The carrier refusing the shipment data; `message` is put in the carrier's own text.
    fn validation_refusal(request: &Request, message: &str) -> ResponseTemplate;
    /// The carrier rejecting the account's credentials.
    fn credentials_rejected() -> ResponseTemplate;
    /// The carrier's answer for a label it no longer keeps.
    fn label_gone() -> ResponseTemplate;
}

macro_rules! dispatch_contract_suite {
    ($suite:ident, $carrier:ty) => {
        mod $suite {
            use super::*;

            type C = $carrier;

            async fn create_with(
                respond: impl Respond + 'static,
            ) -> (LogCapture, Result<fulfillment_carriers::dispatch::CreatedShipment, DispatchError>) {
                let logs = LogCapture::start();
                let server = wiremock::MockServer::start().await;
                C::create_call().respond_with(respond).expect(1).mount(&server).await;
                let result = C::client(&server.uri()).create_shipment(&C::request()).await;
                (logs, result)
            }

            fn clean(logs: &LogCapture, err: &DispatchError) {
                assert_no_secret(err, C::SECRETS);
                logs.assert_no_secret(C::SECRETS);
            }

            #[tokio::test]
            async fn a_real_shape_answer_creates_the_shipment_with_its_tracking_number() {
                let (logs, result) = create_with(Answer(C::created)).await;
                let created = result.unwrap();
                assert_eq!(created.tracking_number, C::TRACKING_NUMBER);
                assert!(!created.carrier_shipment_id.is_empty());
                // R3: the number the carrier issued is one the order can be shipped with.
                let carrier = C::client("http://127.0.0.1:9").carrier().to_owned();
                let valid = fulfillment_policy::tracking_number::validate_tracking_number(
                    &carrier,
                    &created.tracking_number,
                    fulfillment_policy::tracking_number::Channel::Api,
                );
                assert!(valid.is_ok(), "{valid:?}");
                logs.assert_no_secret(C::SECRETS);
            }

            #[tokio::test]
            async fn a_validation_refusal_names_our_field() {
                let (logs, result) =
                    create_with(Answer(|r| C::validation_refusal(r, "refused"))).await;
                let err = result.unwrap_err();
                let DispatchError::Validation(errors) = &err else {
                    panic!("{err:?}")
                };
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert!(fields.contains(&C::REFUSED_FIELD), "{fields:?}");
                assert!(!err.is_transient());
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_refusal_echoing_the_credentials_is_redacted() {
                let (logs, result) = create_with(Answer(|r| {
                    C::validation_refusal(r, &format!("konto {}", C::SECRETS.join(" / ")))
                }))
                .await;
                let err = result.unwrap_err();
                assert!(err.to_string().contains("[redacted]"), "{err}");
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn rejected_credentials_must_be_fixed() {
                let (logs, result) = create_with(C::credentials_rejected()).await;
                let err = result.unwrap_err();
                assert_eq!(err, DispatchError::CredentialsRejected);
                assert!(err.needs_new_credentials() && !err.is_transient());
                assert!(err.to_string().contains("must fix"), "{err}");
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_server_error_is_unavailable_and_transient() {
                let (logs, result) =
                    create_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
                        .await;
                let err = result.unwrap_err();
                assert!(
                    matches!(&err, DispatchError::Unavailable(m) if m.contains("503")),
                    "{err:?}"
                );
                assert!(err.is_transient());
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_slow_answer_times_out() {
                let (logs, result) =
                    create_with(Answer(|r| slow(C::created(r)))).await;
                let err = result.unwrap_err();
                assert_eq!(err, DispatchError::Timeout);
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_body_it_cannot_read_is_malformed() {
                let (logs, result) = create_with(
                    ResponseTemplate::new(200).set_body_raw("<html><body>maintenance", "text/html"),
                )
                .await;
                let err = result.unwrap_err();
                assert!(matches!(err, DispatchError::Malformed(_)), "{err:?}");
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_rate_limit_carries_retry_after() {
                let (logs, result) =
                    create_with(ResponseTemplate::new(429).insert_header("Retry-After", "12")).await;
                let err = result.unwrap_err();
                assert_eq!(
                    err,
                    DispatchError::RateLimited {
                        retry_after: Some(Duration::from_secs(12))
                    }
                );
                assert!(err.is_transient());
                clean(&logs, &err);
            }

            #[tokio::test]
            async fn a_label_the_carrier_no_longer_keeps_is_gone() {
                let logs = LogCapture::start();
                let server = wiremock::MockServer::start().await;
                C::label_call()
                    .respond_with(C::label_gone())
                    .expect(1)
                    .mount(&server)
                    .await;
                let err = C::client(&server.uri())
                    .fetch_label(&C::shipment())
                    .await
                    .unwrap_err();
                assert_eq!(err, DispatchError::LabelGone);
                assert!(!err.is_transient());
                clean(&logs, &err);
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// InPost ShipX

struct InPost;

const INPOST_TOKEN: &str = "shipx-eyJhbGciOiJSUzI1NiJ9-ContractToken";

impl Contract for InPost {
    const SECRETS: &'static [&'static str] = &[INPOST_TOKEN];
    const TRACKING_NUMBER: &'static str = "520000011395200025754311";
    const REFUSED_FIELD: &'static str = "receiver.phone";

    fn client(base: &str) -> Box<dyn Dispatcher> {
        let settings = InPostSettings {
            organization_id: "5123".into(),
            api_token: Secret::new(INPOST_TOKEN),
            default_template: "small".into(),
            send_from_locker: true,
            sending_locker: Some("WAW01A".into()),
        };
        Box::new(
            InPostDispatcher::new(base, settings, TIMEOUT)
                .unwrap()
                .with_polling(0, Duration::ZERO),
        )
    }

    fn request() -> ShipmentRequest {
        let mut req = request(ShipmentType::Parcel);
        req.target_point = Some("KRA010".into());
        req
    }

    fn shipment() -> ShipmentRef {
        ShipmentRef::new("49201373", Self::TRACKING_NUMBER, "49201373")
    }

    fn create_call() -> MockBuilder {
        wiremock::Mock::given(method("POST"))
            .and(path("/v1/organizations/5123/shipments"))
            .and(header(
                "authorization",
                format!("Bearer {INPOST_TOKEN}").as_str(),
            ))
    }

    fn label_call() -> MockBuilder {
        wiremock::Mock::given(method("GET")).and(path_regex(r"^/v1/shipments/49201373/label$"))
    }

    fn created(_: &Request) -> ResponseTemplate {
        json(201, fixture("inpost/shipment_confirmed.json"))
    }

    fn validation_refusal(_: &Request, message: &str) -> ResponseTemplate {
        let body = fixture("inpost/validation_failed.json").replace("invalid", message);
        json(400, body)
    }

    fn credentials_rejected() -> ResponseTemplate {
        json(401, fixture("inpost/token_invalid.json"))
    }

    fn label_gone() -> ResponseTemplate {
        json(404, fixture("inpost/label_not_found.json"))
    }
}

// ---------------------------------------------------------------------------------------------
// Poczta Polska Elektroniczny Nadawca

struct PocztaPolska;

const EN_LOGIN: &str = "sklep-kontrakt-en";
const EN_PASSWORD: &str = "Pa55-w0rd-EN-contract";
const EN_PATH: &str = "/websrv/en.php";

/// The guid of the `przesylki` the client sent, as EN echoes it.
fn sent_guid(request: &Request) -> String {
    String::from_utf8_lossy(&request.body)
        .split("guid=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("none")
        .to_owned()
}

impl Contract for PocztaPolska {
    const SECRETS: &'static [&'static str] = &[EN_PASSWORD, EN_LOGIN];
    const TRACKING_NUMBER: &'static str = "00659007734100020216";
    const REFUSED_FIELD: &'static str = "receiver.name";

    fn client(base: &str) -> Box<dyn Dispatcher> {
        let settings = PocztaPolskaSettings {
            login: EN_LOGIN.into(),
            password: Secret::new(EN_PASSWORD),
            kind: PocztaAccountKind::Regular,
            default_sizes: BTreeMap::from([("parcel".to_owned(), "M".to_owned())]),
            cod_bank_account: None,
        };
        Box::new(
            PocztaPolskaDispatcher::new(format!("{base}{EN_PATH}"), settings, TIMEOUT).unwrap(),
        )
    }

    fn request() -> ShipmentRequest {
        let mut req = request(ShipmentType::Parcel);
        req.parcel.weight_grams = Some(1_200);
        req
    }

    fn shipment() -> ShipmentRef {
        ShipmentRef::new(
            "3F2504E04F8911D39A0C0305E82C3301",
            Self::TRACKING_NUMBER,
            "3F2504E04F8911D39A0C0305E82C3301",
        )
    }

    fn create_call() -> MockBuilder {
        let basic = format!(
            "Basic {}",
            base64(format!("{EN_LOGIN}:{EN_PASSWORD}").as_bytes())
        );
        wiremock::Mock::given(method("POST"))
            .and(path(EN_PATH))
            .and(header("authorization", basic.as_str()))
            .and(header(
                "soapaction",
                poczta_polska::soap_action("addShipment").as_str(),
            ))
    }

    fn label_call() -> MockBuilder {
        wiremock::Mock::given(method("POST")).and(header(
            "soapaction",
            poczta_polska::soap_action("getAddresLabelByGuid").as_str(),
        ))
    }

    fn created(request: &Request) -> ResponseTemplate {
        xml(
            200,
            fixture("poczta_polska/add_shipment_ok.xml").replace("{GUID}", &sent_guid(request)),
        )
    }

    fn validation_refusal(request: &Request, message: &str) -> ResponseTemplate {
        let body = fixture("poczta_polska/add_shipment_error_33602.xml")
            .replace("{GUID}", &sent_guid(request))
            .replace(
                "nie może być puste",
                &format!("nie może być puste ({message})"),
            );
        xml(200, body)
    }

    fn credentials_rejected() -> ResponseTemplate {
        ResponseTemplate::new(401)
            .insert_header("WWW-Authenticate", "Basic realm=\"EN\"")
            .set_body_raw(
                fixture("poczta_polska/unauthorized_modelled.html"),
                "text/html",
            )
    }

    fn label_gone() -> ResponseTemplate {
        xml(200, fixture("poczta_polska/label_gone.xml"))
    }
}

// ---------------------------------------------------------------------------------------------
// Paczka w Ruchu / ORLEN Paczka

struct PaczkaWRuchu;

const PWR_ID: &str = "PWR0098765";
const PWR_KEY: &str = "A7C1-55D0-E3-contract";
const PWR_PATH: &str = "/WebServicePwRProd/WebServicePwR.asmx";

impl Contract for PaczkaWRuchu {
    const SECRETS: &'static [&'static str] = &[PWR_KEY, PWR_ID];
    const TRACKING_NUMBER: &'static str = "6400217359104";
    const REFUSED_FIELD: &'static str = "receiver.phone";

    fn client(base: &str) -> Box<dyn Dispatcher> {
        let settings = PaczkaWRuchuSettings {
            partner_id: PWR_ID.into(),
            partner_key: Secret::new(PWR_KEY),
            default_size: "M".into(),
        };
        Box::new(
            PaczkaWRuchuDispatcher::new(format!("{base}{PWR_PATH}"), settings, TIMEOUT).unwrap(),
        )
    }

    fn request() -> ShipmentRequest {
        let mut req = request(ShipmentType::Parcel);
        req.sender = Some(sender());
        req.target_point = Some("KR-116263-K1-02".into());
        req
    }

    fn shipment() -> ShipmentRef {
        ShipmentRef::new(
            Self::TRACKING_NUMBER,
            Self::TRACKING_NUMBER,
            Self::TRACKING_NUMBER,
        )
    }

    fn create_call() -> MockBuilder {
        wiremock::Mock::given(method("POST"))
            .and(path(PWR_PATH))
            .and(header(
                "soapaction",
                paczka_w_ruchu::soap_action("GenerateLabelBusinessPack").as_str(),
            ))
            .and(wiremock::matchers::body_string_contains(format!(
                "<PartnerID>{PWR_ID}</PartnerID><PartnerKey>{PWR_KEY}</PartnerKey>"
            )))
    }

    fn label_call() -> MockBuilder {
        wiremock::Mock::given(method("POST")).and(header(
            "soapaction",
            paczka_w_ruchu::soap_action("LabelPrintDuplicate").as_str(),
        ))
    }

    fn created(_: &Request) -> ResponseTemplate {
        xml(200, fixture("paczka_w_ruchu/generate_label_ok.xml"))
    }

    fn validation_refusal(_: &Request, message: &str) -> ResponseTemplate {
        let body = fixture("paczka_w_ruchu/validation_error.xml")
            .replace("(PhoneNumber)", &format!("(PhoneNumber) {message}"));
        xml(200, body)
    }

    fn credentials_rejected() -> ResponseTemplate {
        xml(200, fixture("paczka_w_ruchu/credentials_rejected.xml"))
    }

    fn label_gone() -> ResponseTemplate {
        xml(200, fixture("paczka_w_ruchu/label_gone_modelled.xml"))
    }
}

// One line per dispatch carrier.
dispatch_contract_suite!(inpost, InPost);
dispatch_contract_suite!(poczta_polska_en, PocztaPolska);
dispatch_contract_suite!(paczka_w_ruchu_orlen, PaczkaWRuchu);
