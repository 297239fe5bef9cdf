#![allow(clippy::unwrap_used)]

#[path = "common/dispatch.rs"]
mod dispatch_common;

use std::time::Duration;

use dispatch_common::*;
use fulfillment_carriers::dispatch::paczka_w_ruchu::{
    PaczkaWRuchuDispatcher, PaczkaWRuchuSettings, soap_action,
};
use fulfillment_carriers::dispatch::{
    CashOnDelivery, CreatedShipment, DispatchError, Dispatcher, Secret, ShipmentRef,
    ShipmentRequest, ShipmentType,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PARTNER_ID: &str = "PWR0012345";
const PARTNER_KEY: &str = "F2E0-87C0-B9-secret";
const ENDPOINT: &str = "/WebServicePwRProd/WebServicePwR.asmx";
const PACK: &str = "6400217359104";

fn settings() -> PaczkaWRuchuSettings {
    PaczkaWRuchuSettings {
        partner_id: PARTNER_ID.into(),
        partner_key: Secret::new(PARTNER_KEY),
        default_size: "M".into(),
    }
}

fn client(server: &MockServer) -> PaczkaWRuchuDispatcher {
    PaczkaWRuchuDispatcher::new(format!("{}{ENDPOINT}", server.uri()), settings(), TIMEOUT).unwrap()
}

fn pack_request() -> ShipmentRequest {
    let mut req = request(ShipmentType::Parcel);
    req.sender = Some(sender());
    req.target_point = Some("KR-116263-K1-02".into());
    req
}

fn shipment() -> ShipmentRef {
    ShipmentRef::new(PACK, PACK, PACK)
}

fn credentials() -> String {
    format!("<PartnerID>{PARTNER_ID}</PartnerID><PartnerKey>{PARTNER_KEY}</PartnerKey>")
}

/// Mounts `operation` with the partner credentials in the body, answering with `template`.
async fn mount(server: &MockServer, operation: &str, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("soapaction", soap_action(operation).as_str()))
        .and(body_string_contains(format!(
            r#"<{operation} xmlns="https://91.242.220.103/WebServicePwR">{}"#,
            credentials()
        )))
        .respond_with(template)
        .expect(1)
        .mount(server)
        .await;
}

async fn create(template: ResponseTemplate) -> Result<CreatedShipment, DispatchError> {
    let server = MockServer::start().await;
    mount(&server, "GenerateLabelBusinessPack", template).await;
    client(&server).create_shipment(&pack_request()).await
}

#[tokio::test]
async fn pack_is_generated_with_the_buyers_data_and_its_label() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header(
            "soapaction",
            soap_action("GenerateLabelBusinessPack").as_str(),
        ))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .and(body_string_contains(credentials()))
        .and(body_string_contains(
            "<DestinationCode>KR-116263-K1-02</DestinationCode><BoxSize>M</BoxSize>",
        ))
        .and(body_string_contains(
            "<CashOnDelivery>T</CashOnDelivery><AmountCashOnDelivery>4999</AmountCashOnDelivery>",
        ))
        .and(body_string_contains(concat!(
            "<EMail>anna.kowalska@example.com</EMail><FirstName>Anna Maria</FirstName>",
            "<LastName>Kowalska</LastName><StreetName>Długa</StreetName>",
            "<BuildingNumber>5/3</BuildingNumber><City>Kraków</City>",
            "<PostCode>30-001</PostCode><PhoneNumber>501202303</PhoneNumber>"
        )))
        .and(body_string_contains(concat!(
            "<SenderEMail>sklep@example.com</SenderEMail><SenderFirstName>Jan</SenderFirstName>",
            "<SenderLastName>Nowak</SenderLastName>"
        )))
        .and(body_string_contains(
            "<SenderOrders>ORD-2024-000123</SenderOrders><PrintAdress>1</PrintAdress>",
        ))
        .respond_with(xml(200, fixture("paczka_w_ruchu/generate_label_ok.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.carrier(), "paczka-w-ruchu");
    let mut req = pack_request();
    req.cod = Some(CashOnDelivery {
        amount_minor: 4_999,
        currency: "PLN".into(),
        bank_account: None,
    });
    let created = client.create_shipment(&req).await.unwrap();
    assert_eq!(created.tracking_number, PACK);
    assert_eq!(created.carrier_shipment_id, PACK);
    assert_eq!(created.label_reference, PACK);
    let label = created.label.as_ref().unwrap();
    assert_eq!(label.content_type, "application/pdf");
    assert_eq!(label.bytes, fixture_bytes("paczka_w_ruchu/label.pdf"));
    assert_eq!(created.shipment_ref(), shipment());
}

#[tokio::test]
async fn without_cash_on_delivery_the_flag_is_f() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(body_string_contains(
            "<BoxSize>M</BoxSize><CashOnDelivery>F</CashOnDelivery><EMail>",
        ))
        .respond_with(xml(200, fixture("paczka_w_ruchu/generate_label_ok.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server)
        .create_shipment(&pack_request())
        .await
        .unwrap();
    assert_eq!(created.tracking_number, PACK);
    let sent =
        String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(!sent.contains("AmountCashOnDelivery"), "{sent}");
}

#[tokio::test]
async fn a_soap_12_answer_is_read_the_same() {
    // naturalGroove/orlenpaczka-laravel speaks SOAP 1.2 and gets its answers in a SOAP 1.2
    // envelope; the same DataSet inside.
    let created = create(xml(
        200,
        fixture("paczka_w_ruchu/generate_label_ok_soap12.xml"),
    ))
    .await
    .unwrap();
    assert_eq!(created.tracking_number, PACK);
    assert!(created.label.is_some());
}

#[tokio::test]
async fn an_asmx_server_fault_is_unavailable() {
    let fault = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server was unable to process request. ---&gt; Timeout expired.</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>"#;
    let err = create(xml(500, fault.into())).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::Unavailable(m) if m.contains("unable to process")),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn letters_and_missing_point_or_sender_are_refused_before_any_call() {
    let server = never_called().await;
    let client = client(&server);
    assert_parcels_only(&client).await;
    let err = refusal(&client, &request(ShipmentType::Parcel)).await;
    let DispatchError::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["target_point", "sender"]);
    assert_eq!(received(&server).await, 0);
}

#[tokio::test]
async fn label_duplicate_is_the_pdf_of_the_pack() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header(
            "soapaction",
            soap_action("LabelPrintDuplicate").as_str(),
        ))
        .and(body_string_contains(format!(
            "{}<PackCode>{PACK}</PackCode></LabelPrintDuplicate>",
            credentials()
        )))
        .respond_with(xml(200, fixture("paczka_w_ruchu/label_duplicate.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let label = client(&server).fetch_label(&shipment()).await.unwrap();
    assert_eq!(label.bytes, fixture_bytes("paczka_w_ruchu/label.pdf"));
}

#[tokio::test]
async fn label_with_rejected_credentials() {
    let server = MockServer::start().await;
    mount(
        &server,
        "LabelPrintDuplicate",
        xml(200, fixture("paczka_w_ruchu/credentials_rejected.xml")),
    )
    .await;
    let err = client(&server).fetch_label(&shipment()).await.unwrap_err();
    assert_eq!(err, DispatchError::CredentialsRejected);
}

#[tokio::test]
async fn cancel_cancels_the_pack() {
    let server = MockServer::start().await;
    mount(
        &server,
        "PutCustomerPackCanceled",
        xml(200, fixture("paczka_w_ruchu/cancel_ok_modelled.xml")),
    )
    .await;
    client(&server).cancel(&shipment()).await.unwrap();
    let sent =
        String::from_utf8(server.received_requests().await.unwrap()[0].body.clone()).unwrap();
    assert!(
        sent.contains(&format!("<PackCode>{PACK}</PackCode>")),
        "{sent}"
    );
}

#[tokio::test]
async fn a_posted_pack_cannot_be_cancelled() {
    let server = MockServer::start().await;
    mount(
        &server,
        "PutCustomerPackCanceled",
        xml(200, fixture("paczka_w_ruchu/cancel_posted_modelled.xml")),
    )
    .await;
    let err = client(&server).cancel(&shipment()).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::Carrier { code, .. } if code == "210"),
        "{err:?}"
    );
}

#[test]
fn the_client_never_shows_its_key() {
    let client = PaczkaWRuchuDispatcher::new(
        "https://example.invalid/WebServicePwR.asmx",
        settings(),
        Duration::from_secs(1),
    )
    .unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(PARTNER_KEY), "{shown}");
}
