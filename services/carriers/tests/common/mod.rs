//! Helpers shared by the carrier tests.
#![allow(dead_code, clippy::unwrap_used)]

#[path = "mock.rs"]
mod mock;
// Not every test crate mounts through the helper.
#[allow(unused_imports)]
pub use mock::{json, mount};

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fulfillment_carriers::{
    CarrierConfig, CarrierEvent, TrackError, TrackReport, TrackingClient, TrackingStatus,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The API key every test client uses; no error message may show it.
pub const KEY: &str = "sk_test_51HvQ9kT0pSecretKey";
/// Short, so the timeout tests stay fast.
pub const TIMEOUT: Duration = Duration::from_millis(200);

pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn config(server: &MockServer) -> CarrierConfig {
    let mut config = CarrierConfig::new(server.uri());
    config.api_key = Some(KEY.to_owned());
    config.timeout = TIMEOUT;
    config
}

/// A server answering `answer` once to `GET at` carrying the `credential` header (name,
/// value): the request every GET-based tracking client must send.
pub async fn serve_get(at: &str, credential: (&str, &str), answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(at))
        .and(header(credential.0, credential.1))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Tracks `number` with the client `make` builds for a [`serve_get`] server answering `answer`,
/// after checking the client names itself `carrier`: each GET-based carrier's `track`.
pub async fn track_get<C: TrackingClient>(
    at: &str,
    credential: (&str, &str),
    answer: ResponseTemplate,
    make: impl FnOnce(CarrierConfig) -> C,
    (carrier, number): (&str, &str),
) -> Result<TrackReport, TrackError> {
    let server = serve_get(at, credential, answer).await;
    let client = make(config(&server));
    assert_eq!(client.carrier(), carrier);
    client.track(number).await
}

/// The report of a tracking call that must succeed.
pub async fn answered(call: impl Future<Output = Result<TrackReport, TrackError>>) -> TrackReport {
    call.await.unwrap()
}

/// The error of a tracking call that must fail.
pub async fn failed(call: impl Future<Output = Result<TrackReport, TrackError>>) -> TrackError {
    call.await.unwrap_err()
}

pub fn xml(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "text/xml; charset=UTF-8")
}

/// A response slower than [`TIMEOUT`].
pub fn slow(template: ResponseTemplate) -> ResponseTemplate {
    template.set_delay(Duration::from_millis(1_000))
}

pub fn rate_limited() -> ResponseTemplate {
    ResponseTemplate::new(429).insert_header("Retry-After", "7")
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// What a test expects of one event.
pub struct Expected<'a> {
    pub id: Option<&'a str>,
    pub at: &'a str,
    pub status: TrackingStatus,
    pub code: &'a str,
    pub text: &'a str,
    pub location: &'a str,
}

pub fn check_events(events: &[CarrierEvent], expected: &[Expected<'_>]) {
    assert_eq!(events.len(), expected.len(), "{events:#?}");
    for (i, (event, want)) in events.iter().zip(expected).enumerate() {
        assert_eq!(event.event_id.as_deref(), want.id, "event {i} id");
        assert_eq!(event.occurred_at, utc(want.at), "event {i} time");
        assert_eq!(event.status, want.status, "event {i} status");
        assert_eq!(event.carrier_status_code, want.code, "event {i} code");
        assert_eq!(event.carrier_status_text, want.text, "event {i} text");
        assert_eq!(event.location, want.location, "event {i} location");
        assert!(!event.raw_payload.is_empty(), "event {i} raw payload");
    }
}

/// One event is exactly what `expected` says.
pub fn check_event(event: &CarrierEvent, expected: &Expected<'_>) {
    check_events(std::slice::from_ref(event), std::slice::from_ref(expected));
}

/// An event's raw payload read as JSON.
pub fn raw_json(event: &CarrierEvent) -> serde_json::Value {
    serde_json::from_str(&event.raw_payload).unwrap()
}

/// The report is about `number` and holds exactly the `expected` events, in that order.
pub fn check_report(report: &TrackReport, number: &str, expected: &[Expected<'_>]) {
    assert_eq!(report.tracking_number, number);
    check_events(&report.events, expected);
}

/// `err` is the carrier's error with this HTTP status.
pub fn assert_carrier_status(err: &TrackError, status: u16) {
    assert!(
        matches!(err, TrackError::Carrier { status: s, .. } if *s == status),
        "{err:?}"
    );
}

/// No error message may carry a credential.
pub fn assert_no_secret(error: &TrackError, secrets: &[&str]) {
    let shown = format!("{error} / {error:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{shown}");
    }
}
