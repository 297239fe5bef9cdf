#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use fulfillment_carriers::poczta_polska::{PocztaPolskaClient, SOAP_ACTION};
use fulfillment_carriers::{
    CarrierConfig, TrackError, TrackReport, TrackingClient, TrackingStatus,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NUMBER: &str = "00659007734210841438";
const USER: &str = "shop-account";
const PASSWORD: &str = "Pa55-w0rd-secret";

fn pp_config(server: &MockServer) -> CarrierConfig {
    let mut config = config(server);
    config.base_url = format!("{}/Sledzenie/services/Sledzenie", server.uri());
    config.api_key = None;
    config.username = Some(USER.into());
    config.password = Some(PASSWORD.into());
    config
}

/// Tracks NUMBER against a server answering `template` to well-formed, authenticated calls.
async fn track(template: ResponseTemplate) -> Result<TrackReport, TrackError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/Sledzenie/services/Sledzenie"))
        .and(header("soapaction", SOAP_ACTION))
        .and(body_string_contains(format!(
            "<wsse:Username>{USER}</wsse:Username>"
        )))
        .and(body_string_contains(format!(
            "#PasswordText\">{PASSWORD}</wsse:Password>"
        )))
        .and(body_string_contains(format!(
            "<sled:sprawdzPrzesylkePl><sled:numer>{NUMBER}</sled:numer>"
        )))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    let client = PocztaPolskaClient::new(pp_config(&server)).unwrap();
    assert_eq!(client.carrier(), "poczta-polska");
    client.track(NUMBER).await
}

/// The events of `poczta_polska/tracking.xml`, in its order, as (UTC time, status, code,
/// text, location); none has an id.
const WARSAW_EVENTS: [(&str, TrackingStatus, &str, &str, &str); 8] = {
    use TrackingStatus::*;
    [
        // 28 March: winter time, UTC+1.
        (
            "2024-03-28T13:05:00Z",
            InTransit,
            "P_NAD",
            "Nadanie",
            "UP Warszawa 1",
        ),
        (
            "2024-03-28T20:40:00Z",
            InTransit,
            "P_WZL",
            "Wysłanie z ładunkiem",
            "UP Warszawa 1",
        ),
        (
            "2024-03-29T03:12:00Z",
            InTransit,
            "P_PZL",
            "Przyjęcie z ładunkiem",
            "CP WER Warszawa",
        ),
        (
            "2024-03-29T05:30:00Z",
            InTransit,
            "P_WZL",
            "Wysłanie z ładunkiem",
            "CP WER Warszawa",
        ),
        (
            "2024-03-29T22:50:00Z",
            InTransit,
            "P_PZL",
            "Przyjęcie z ładunkiem",
            "CP WER Kraków",
        ),
        // April: summer time, UTC+2. Handed to the postman: out for delivery.
        (
            "2024-04-01T05:45:00Z",
            OutForDelivery,
            "P_WD",
            "Wydanie doręczycielowi",
            "UP Kraków 31 & Filia",
        ),
        // Listed before the awizo that preceded it.
        (
            "2024-04-02T09:20:00Z",
            Delivered,
            "P_D",
            "Doręczenie",
            "UP Kraków 31 & Filia",
        ),
        (
            "2024-04-01T08:05:00Z",
            AvailableForPickup,
            "P_A",
            "Awizo (Adresat nieobecny)",
            "UP Kraków 31 & Filia",
        ),
    ]
};

#[tokio::test]
async fn normal_answer_maps_every_event_in_warsaw_time() {
    let report = track(xml(200, fixture("poczta_polska/tracking.xml")))
        .await
        .unwrap();
    assert_eq!(report.tracking_number, NUMBER);
    let expected = WARSAW_EVENTS.map(|(at, status, code, text, location)| Expected {
        id: None,
        at,
        status,
        code,
        text,
        location,
    });
    check_events(&report.events, &expected);
    let raw = &report.events[6].raw_payload;
    assert!(raw.starts_with("<ax21:zdarzenie"), "{raw}");
    assert!(raw.contains("<ax21:kod>P_D</ax21:kod>"), "{raw}");
    assert!(raw.ends_with("</ax21:zdarzenie>"), "{raw}");
}

#[tokio::test]
async fn public_account_when_no_credentials_are_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(
            "<wsse:Username>sledzeniepp</wsse:Username>",
        ))
        .and(body_string_contains("#PasswordText\">PPSA</wsse:Password>"))
        .respond_with(xml(200, fixture("poczta_polska/not_found.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = pp_config(&server);
    config.username = None;
    config.password = None;
    let client = PocztaPolskaClient::new(config).unwrap();
    assert_eq!(
        client.track("RR000000000PL").await.unwrap_err(),
        TrackError::NotFound
    );
}

#[tokio::test]
async fn the_number_is_escaped_in_the_envelope() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(
            "<sled:numer>RR&lt;x&gt;&amp;1</sled:numer>",
        ))
        .respond_with(xml(200, fixture("poczta_polska/invalid_number.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let client = PocztaPolskaClient::new(pp_config(&server)).unwrap();
    assert_eq!(
        client.track("RR<x>&1").await.unwrap_err(),
        TrackError::NotFound
    );
}

#[tokio::test]
async fn unknown_number_is_not_found() {
    let err = track(xml(200, fixture("poczta_polska/not_found.xml")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
    let err = track(xml(200, fixture("poczta_polska/invalid_number.xml")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::NotFound);
}

#[tokio::test]
async fn server_errors_are_carrier_errors() {
    let err = track(xml(500, fixture("poczta_polska/fault_server.xml")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Carrier { status: 500, ref message } if message.contains("database unavailable")),
        "{err:?}"
    );
    let err = track(ResponseTemplate::new(500)).await.unwrap_err();
    assert_carrier_status(&err, 500);
    let err = track(xml(200, fixture("poczta_polska/service_error.xml")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::Carrier { ref message, .. } if message.contains("-99")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized_and_never_shown() {
    let err = track(xml(500, fixture("poczta_polska/fault_authentication.xml")))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::Unauthorized);
    let echo = format!(
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>bad input: {PASSWORD}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    );
    let err = track(xml(500, echo)).await.unwrap_err();
    assert_carrier_status(&err, 500);
    assert_no_secret(&err, &[PASSWORD, KEY]);
}

#[tokio::test]
async fn slow_answer_times_out() {
    let err = track(slow(xml(200, fixture("poczta_polska/tracking.xml"))))
        .await
        .unwrap_err();
    assert_eq!(err, TrackError::Timeout);
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let err = track(xml(200, fixture("poczta_polska/malformed.xml")))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
    let err = track(json(200, "{\"status\":0}".into())).await.unwrap_err();
    assert!(matches!(err, TrackError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let err = track(rate_limited()).await.unwrap_err();
    assert_eq!(
        err,
        TrackError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}
