//! Helpers shared by the dispatch tests (`#[path = "common/dispatch.rs"] mod dispatch_common;`).
#![allow(dead_code, clippy::unwrap_used)]

#[path = "mock.rs"]
mod mock;
// Not every test crate mounts through the helper.
#[allow(unused_imports)]
pub use mock::{json, mount};
#[path = "soap.rs"]
mod soap;
// Only the Poczta Polska tests read a request's guid.
#[allow(unused_imports)]
pub use soap::request_guid;

use std::time::Duration;

use fulfillment_carriers::dispatch::{
    Contact, DispatchError, Dispatcher, ShipmentRequest, ShipmentType,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Short, so the timeout tests stay fast.
pub const TIMEOUT: Duration = Duration::from_millis(300);

pub fn fixture(path: &str) -> String {
    let full = format!(
        "{}/tests/fixtures/dispatch/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn fixture_bytes(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/tests/fixtures/dispatch/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn xml(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "text/xml; charset=utf-8")
}

/// A response slower than [`TIMEOUT`].
pub fn slow(template: ResponseTemplate) -> ResponseTemplate {
    template.set_delay(Duration::from_millis(1_500))
}

/// The buyer of every test.
pub fn receiver() -> Contact {
    Contact {
        name: "Anna Maria Kowalska".into(),
        phone: "+48 501 202 303".into(),
        email: "anna.kowalska@example.com".into(),
        street: "Długa".into(),
        building: "5/3".into(),
        city: "Kraków".into(),
        postal_code: "30-001".into(),
        country_code: "PL".into(),
    }
}

/// The merchant of every test.
pub fn sender() -> Contact {
    Contact {
        name: "Jan Nowak".into(),
        phone: "500600700".into(),
        email: "sklep@example.com".into(),
        street: "Prosta".into(),
        building: "1".into(),
        city: "Warszawa".into(),
        postal_code: "00-838".into(),
        country_code: "PL".into(),
    }
}

pub fn request(shipment_type: ShipmentType) -> ShipmentRequest {
    ShipmentRequest::new("ORD-2024-000123", receiver(), shipment_type)
}

/// The error of a shipment `client` must refuse (or fail) to create.
pub async fn refusal(client: &dyn Dispatcher, req: &ShipmentRequest) -> DispatchError {
    client.create_shipment(req).await.unwrap_err()
}

/// A carrier that takes parcels only refuses a registered letter (R19); callers check that no
/// call was made.
pub async fn assert_parcels_only(client: &dyn Dispatcher) {
    let err = refusal(client, &request(ShipmentType::RegisteredLetter)).await;
    assert!(
        matches!(&err, DispatchError::Refused(r) if r.contains("parcels only")),
        "{err:?}"
    );
}

/// No error may show a credential, in its message or its `Debug`.
pub fn assert_no_secret(error: &DispatchError, secrets: &[&str]) {
    let shown = format!("{error} / {error:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} shown in: {shown}");
    }
}

/// How many requests the server received.
pub async fn received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Standard base64, for the `Authorization: Basic` header the tests expect.
pub fn base64(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// Log lines written while a [`LogCapture`] is alive on this thread (the tests run on
/// tokio's current-thread runtime, so the client logs on this thread too).
pub struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn start() -> Self {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let buf = SharedBuf(lines.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || buf.clone())
            .finish();
        Self {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }

    /// No captured line may show a credential.
    pub fn assert_no_secret(&self, secrets: &[&str]) {
        let text = self.text();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} logged in: {text}");
        }
    }
}

/// A carrier that must not be called: a POST to it fails the test when the server drops.
pub async fn never_called() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}
