#![allow(clippy::unwrap_used)]

#[path = "common/dispatch.rs"]
mod dispatch_common;

use std::collections::BTreeMap;
use std::time::Duration;

use dispatch_common::*;
use fulfillment_carriers::dispatch::poczta_polska::{
    EnvelopeSent, PocztaAccountKind, PocztaPolskaDispatcher, PocztaPolskaSettings, soap_action,
};
use fulfillment_carriers::dispatch::{
    CashOnDelivery, CreatedShipment, DispatchError, Dispatcher, Secret, ShipmentRef, ShipmentType,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LOGIN: &str = "sklep-testowy-en";
const PASSWORD: &str = "Pa55-w0rd-EN-secret";
const ENDPOINT: &str = "/websrv/en.php";
const GUID: &str = "3F2504E04F8911D39A0C0305E82C3301";

fn settings() -> PocztaPolskaSettings {
    PocztaPolskaSettings {
        login: LOGIN.into(),
        password: Secret::new(PASSWORD),
        kind: PocztaAccountKind::Marketplace,
        default_sizes: BTreeMap::from([
            ("parcel".to_owned(), "M".to_owned()),
            ("registered_letter".to_owned(), "S".to_owned()),
        ]),
        cod_bank_account: Some("PL61 1090 1014 0000 0712 1981 2874".into()),
    }
}

fn client(server: &MockServer) -> PocztaPolskaDispatcher {
    PocztaPolskaDispatcher::new(format!("{}{ENDPOINT}", server.uri()), settings(), TIMEOUT).unwrap()
}

fn basic() -> String {
    format!("Basic {}", base64(format!("{LOGIN}:{PASSWORD}").as_bytes()))
}

/// The `numerNadania` of the fixtures: 20 digits, as EN issues for domestic items (R3).
const NUMBER: &str = "00659007734100020216";

fn shipment() -> ShipmentRef {
    ShipmentRef::new(GUID, NUMBER, GUID)
}

/// Answers with a fixture whose `{GUID}` is the guid of the shipment in the request, as EN
/// echoes it.
struct EchoGuid(String);

impl Respond for EchoGuid {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let guid = request_guid(request);
        xml(200, self.0.replace("{GUID}", &guid))
    }
}

/// Mounts an authenticated `operation` answering with `responder`.
async fn mount(server: &MockServer, operation: &str, responder: impl Respond + 'static) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", basic().as_str()))
        .and(header("soapaction", soap_action(operation).as_str()))
        .respond_with(responder)
        .expect(1)
        .mount(server)
        .await;
}

async fn create_parcel(
    responder: impl Respond + 'static,
) -> Result<CreatedShipment, DispatchError> {
    let server = MockServer::start().await;
    mount(&server, "addShipment", responder).await;
    let mut req = request(ShipmentType::Parcel);
    req.parcel.weight_grams = Some(1_200);
    client(&server).create_shipment(&req).await
}

/// Answers, once, the authenticated EN `operation` on the test shipment's guid.
async fn answer_by_guid(server: &MockServer, operation: &str, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", basic().as_str()))
        .and(header("soapaction", soap_action(operation).as_str()))
        .and(body_string_contains(format!(
            "<en:{operation}><guid>{GUID}</guid></en:{operation}>"
        )))
        .respond_with(answer)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn parcel_is_added_with_the_buyers_address_and_gets_its_tracking_number() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", basic().as_str()))
        .and(header("soapaction", soap_action("addShipment").as_str()))
        .and(header("content-type", "text/xml; charset=utf-8"))
        // en.wsdl (pocztex2021KurierType): guid and opis are attributes; adres, pobranie, masa
        // and format are child elements, unqualified, in the schema's sequence order.
        .and(body_string_contains(
            r#"xmlns:en="http://e-nadawca.poczta-polska.pl""#,
        ))
        .and(body_string_contains(
            r#"<en:addShipment><przesylki xsi:type="en:pocztex2021KurierType" guid=""#,
        ))
        .and(body_string_contains(concat!(
            r#"opis="ORD-2024-000123">"#,
            r#"<adres nazwa="Anna Maria Kowalska" ulica="Długa" numerDomu="5/3" miejscowosc="Kraków" kodPocztowy="30001" mobile="501202303" email="anna.kowalska@example.com"/>"#,
            r#"<pobranie sposobPobrania="RACHUNEK_BANKOWY" kwotaPobrania="4999" nrb="61109010140000071219812874" tytulem="ORD-2024-000123"/>"#,
            r#"<masa>1200</masa><format>M</format></przesylki></en:addShipment>"#,
        )))
        .respond_with(EchoGuid(fixture("poczta_polska/add_shipment_ok.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.carrier(), "poczta-polska");
    assert_eq!(client.kind(), PocztaAccountKind::Marketplace);
    let mut req = request(ShipmentType::Parcel);
    req.parcel.weight_grams = Some(1_200);
    req.cod = Some(CashOnDelivery {
        amount_minor: 4_999,
        currency: "PLN".into(),
        bank_account: None,
    });
    let created = client.create_shipment(&req).await.unwrap();
    // R3: the 20-digit number EN issues for a domestic item.
    assert_eq!(created.tracking_number, NUMBER);
    assert_eq!(created.carrier_shipment_id.len(), 32);
    assert_eq!(created.label_reference, created.carrier_shipment_id);
    assert_eq!(created.label, None);
    let sent =
        String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(
        sent.contains(&format!(r#"guid="{}""#, created.carrier_shipment_id)),
        "{sent}"
    );
    // The password travels in the Authorization header only.
    assert!(!sent.contains(PASSWORD));
}

#[tokio::test]
async fn registered_letter_uses_its_default_size() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(body_string_contains(
            r#"xsi:type="en:przesylkaPoleconaKrajowaType""#,
        ))
        // przesylkaPoleconaKrajowaType keeps kategoria and format as attributes.
        .and(body_string_contains(
            r#"kategoria="EKONOMICZNA" format="S">"#,
        ))
        .respond_with(EchoGuid(fixture("poczta_polska/add_shipment_ok.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server)
        .create_shipment(&request(ShipmentType::RegisteredLetter))
        .await
        .unwrap();
    assert_eq!(created.tracking_number, NUMBER);
}

#[tokio::test]
async fn an_answer_rendering_the_attributes_as_child_elements_is_read_too() {
    // sylapi/courier-enadawca's recorded answer shows numerNadania and guid as children.
    let created = create_parcel(EchoGuid(fixture(
        "poczta_polska/add_shipment_ok_child_elements.xml",
    )))
    .await
    .unwrap();
    assert_eq!(created.tracking_number, NUMBER);
    assert_eq!(created.carrier_shipment_id.len(), 32);
}

#[tokio::test]
async fn an_international_s10_number_is_kept_as_issued() {
    let body = fixture("poczta_polska/add_shipment_ok.xml").replace(NUMBER, "rr 123 456 785 pl");
    let created = create_parcel(EchoGuid(body)).await.unwrap();
    assert_eq!(created.tracking_number, "RR123456785PL");
}

#[tokio::test]
async fn unregistered_letters_are_refused_before_any_call() {
    let server = never_called().await;
    let err = client(&server)
        .create_shipment(&request(ShipmentType::UnregisteredLetter))
        .await
        .unwrap_err();
    let DispatchError::Refused(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("unregistered letters"), "{reason}");
    assert!(reason.contains("tracking number"), "{reason}");
    assert!(!err.is_transient());
    assert_eq!(received(&server).await, 0);
}

#[tokio::test]
async fn rejected_shipment_data_names_the_fields() {
    let err = create_parcel(EchoGuid(fixture("poczta_polska/add_shipment_errors.xml")))
        .await
        .unwrap_err();
    let DispatchError::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["receiver.postal_code", "receiver.phone"]);
    assert!(errors[0].message.contains("12051"), "{}", errors[0].message);
    assert_no_secret(&err, &[PASSWORD, LOGIN]);
}

#[tokio::test]
async fn a_server_fault_is_unavailable() {
    let fault = r#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>Internal error</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
    let err = create_parcel(xml(500, fault.into())).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::Unavailable(m) if m.contains("Internal error")),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn missing_size_weight_or_bank_account_is_caught_before_the_call() {
    let server = never_called().await;
    let mut settings = settings();
    settings.default_sizes.clear();
    settings.cod_bank_account = None;
    let client =
        PocztaPolskaDispatcher::new(format!("{}{ENDPOINT}", server.uri()), settings, TIMEOUT)
            .unwrap();
    let mut req = request(ShipmentType::Parcel);
    req.cod = Some(CashOnDelivery {
        amount_minor: 100,
        currency: "PLN".into(),
        bank_account: None,
    });
    let err = client.create_shipment(&req).await.unwrap_err();
    let DispatchError::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["parcel.size", "parcel.weight_grams", "cod.bank_account"]
    );
    assert_eq!(received(&server).await, 0);
}

#[tokio::test]
async fn label_is_the_pdf_of_the_guid() {
    let server = MockServer::start().await;
    answer_by_guid(
        &server,
        "getAddresLabelByGuid",
        xml(200, fixture("poczta_polska/label.xml")),
    )
    .await;
    let label = client(&server).fetch_label(&shipment()).await.unwrap();
    assert_eq!(label.content_type, "application/pdf");
    assert_eq!(label.bytes, fixture_bytes("poczta_polska/label.pdf"));
}

#[tokio::test]
async fn cancel_clears_the_shipment_from_the_buffer() {
    let server = MockServer::start().await;
    answer_by_guid(
        &server,
        "clearEnvelopeByGuids",
        xml(200, fixture("poczta_polska/clear_ok.xml")),
    )
    .await;
    client(&server).cancel(&shipment()).await.unwrap();
}

#[tokio::test]
async fn a_sent_shipment_cannot_be_cleared() {
    let server = MockServer::start().await;
    mount(
        &server,
        "clearEnvelopeByGuids",
        xml(200, fixture("poczta_polska/clear_sent.xml")),
    )
    .await;
    let err = client(&server).cancel(&shipment()).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::Carrier { code, message } if code == "13010" && message.contains("wysłana")),
        "{err:?}"
    );
}

#[tokio::test]
async fn send_envelope_hands_the_buffer_over() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("soapaction", soap_action("sendEnvelope").as_str()))
        .and(body_string_contains(
            "<en:sendEnvelope><urzadNadania>259634</urzadNadania></en:sendEnvelope>",
        ))
        .respond_with(xml(200, fixture("poczta_polska/send_envelope.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let sent = client(&server).send_envelope(Some(259_634)).await.unwrap();
    assert_eq!(
        sent,
        EnvelopeSent {
            id_envelope: Some(8_412_356),
            status: "PRZYJETY".into()
        }
    );
}

#[test]
fn the_client_never_shows_its_password() {
    let client = PocztaPolskaDispatcher::new(
        "https://example.invalid/en.php",
        settings(),
        Duration::from_secs(1),
    )
    .unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}
