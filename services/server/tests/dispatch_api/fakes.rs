//! The carriers' fakes' answers that depend on what they are sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub use crate::common::carrier_fakes::{EchoGuid, soap};
use crate::harness::{INPOST_CREATE, INPOST_NUMBER, INPOST_TOKEN, fixture, json_answer};

/// ShipX answering a new shipment as bought: the fixture for the first call, then the same
/// with the next id and tracking number, so every shipment has its own.
#[derive(Clone, Default)]
pub struct ShipX {
    calls: Arc<AtomicUsize>,
}

impl ShipX {
    pub fn number(n: usize) -> (String, String) {
        if n == 0 {
            ("49201373".into(), INPOST_NUMBER.into())
        } else {
            (format!("{}", 49_300_000 + n), format!("62{n:022}"))
        }
    }
}

impl Respond for ShipX {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let (id, number) = Self::number(n);
        let body = fixture("inpost/shipment_confirmed.json")
            .replace("49201373", &id)
            .replace(INPOST_NUMBER, &number);
        json_answer(201, body)
    }
}

pub async fn mount_inpost_create(server: &MockServer, responder: impl Respond + 'static) {
    Mock::given(method("POST"))
        .and(path(INPOST_CREATE))
        .and(header(
            "authorization",
            format!("Bearer {INPOST_TOKEN}").as_str(),
        ))
        .respond_with(responder)
        .mount(server)
        .await;
}

pub async fn inpost_posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

/// ShipX holding its answer to a create until the test lets it go, and saying when the create
/// has arrived: the call that sent it is then provably at the carrier (its attempt recorded and
/// leased) for as long as the test needs, with no guessed delay.
pub struct Gate {
    arrived: tokio::sync::mpsc::UnboundedSender<()>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
}

/// What the test holds of a [`Gate`]: news of arrivals, and the release.
pub struct GateKeeper {
    pub arrived: tokio::sync::mpsc::UnboundedReceiver<()>,
    pub release: std::sync::mpsc::Sender<()>,
}

impl Gate {
    pub fn new() -> (Self, GateKeeper) {
        let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = std::sync::mpsc::channel();
        let gate = Self {
            arrived,
            release: Mutex::new(released),
        };
        (
            gate,
            GateKeeper {
                arrived: arrivals,
                release,
            },
        )
    }
}

impl Respond for Gate {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let _ = self.arrived.send(());
        // Blocks the fake's own thread, which has nothing else to serve meanwhile; bounded so a
        // test that never releases still ends (its assertions then fail).
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(std::time::Duration::from_secs(30));
        json_answer(201, fixture("inpost/shipment_confirmed.json"))
    }
}
