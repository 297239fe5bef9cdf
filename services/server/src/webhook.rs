//! Carrier webhooks over plain HTTP(S) (R14): `POST /couriers/intelipost/trackings/v1`, with
//! HTTP Basic auth checked against the merchant's stored Intelipost integration. Answers:
//! 401 for missing or wrong credentials (nothing stored), 413 for a body over the limit, 400
//! with the reason for a malformed body or one that names no tracking (no NF-e number, and no
//! carrier tracking code Intelipost has mapped to one, R12), 200 for an applied or redelivered
//! event (R22). The body is read leniently (unknown and missing optional fields are fine, see
//! `fulfillment_carriers::intelipost::webhook`); it carries no sales channel and none is
//! required (R14).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use fulfillment_carriers::intelipost::webhook::{PushError, parse_push};
use fulfillment_core::ServiceError;
use fulfillment_orders::Actor;
use fulfillment_tracking::intelipost::{self, Push, PushOutcome};
use fulfillment_tracking::tracking::IncomingEvent;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::state::AppState;
use crate::tls::{self, ReloadingTls};

/// R14: the path is the rule's.
pub use fulfillment_policy::webhook::INTELIPOST_PATH;
/// A push is one event of one volume: a few KiB. Anything much larger is not Intelipost.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct WebhookOptions {
    pub max_body_bytes: usize,
    pub tls: Option<Arc<ReloadingTls>>,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: None,
        }
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(INTELIPOST_PATH, post(intelipost_push))
        .route(METRICS_PATH, get(metrics))
        // Over the limit: 413 before the handler runs.
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Serves the webhooks on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    options: WebhookOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state, options.max_body_bytes);
    match options.tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            let local = listener.local_addr()?;
            let listener = TlsListener {
                incoming: tls::incoming(listener, tls),
                local,
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// The TLS streams of `tls::incoming` as an axum listener (handshakes already done).
struct TlsListener {
    incoming: ReceiverStream<std::io::Result<TlsStream<TcpStream>>>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.incoming.next().await {
                Some(Ok(stream)) => {
                    let peer = stream.get_ref().0.peer_addr().unwrap_or(self.local);
                    return (stream, peer);
                }
                Some(Err(_)) => continue,
                // The acceptor is gone: nothing more will come.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut response = answer(
        StatusCode::UNAUTHORIZED,
        json!({ "error": "the Basic-auth credentials are not those of a connected Intelipost integration" }),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"fulfillment\""),
    );
    response
}

/// `Authorization: Basic base64(user:password)`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Prometheus scrapes here (the chart's ServiceMonitor); see `crate::metrics`.
pub const METRICS_PATH: &str = "/metrics";

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Every delivery counted by its HTTP status (a handful of values: 200, 400, 401, 404, 409,
/// 422, 500, 503).
async fn intelipost_push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let metrics = state.metrics.clone();
    let response = intelipost_push_unmeasured(State(state), headers, body).await;
    metrics
        .webhook_deliveries
        .get_or_create(&crate::metrics::OutcomeLabels {
            outcome: response.status().as_u16().to_string(),
        })
        .inc();
    response
}

async fn intelipost_push_unmeasured(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Credentials first: a stranger learns nothing about what the body should look like.
    let Some((username, password)) = basic_credentials(&headers) else {
        return unauthorized();
    };
    let merchant = state
        .db
        .transaction(move |conn| intelipost::authenticate(conn, &username, &password))
        .await;
    let merchant_id = match merchant {
        Ok(Some(merchant_id)) => merchant_id,
        Ok(None) => return unauthorized(),
        Err(e) => return failure(e),
    };
    let parsed = match parse_push(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let reason = match e {
                PushError::Unidentifiable => "INTELIPOST_PUSH_UNIDENTIFIED",
                _ => "INTELIPOST_PUSH_MALFORMED",
            };
            return answer(
                StatusCode::BAD_REQUEST,
                json!({ "error": e.to_string(), "reason": reason, "field": e.field() }),
            );
        }
    };
    // R14: no sales channel to check; the merchant's event rule in Intelipost filters it.
    // The raw payload kept is the whole push body, not only its history entry.
    let mut event = parsed.event;
    event.raw_payload = String::from_utf8_lossy(&body).into_owned();
    let push = Push {
        carrier_number: parsed.tracking_code,
        nfe_number: parsed.invoice_number,
        event: IncomingEvent::new(intelipost::CARRIER, String::new(), event),
    };
    let applied = state
        .db
        .transaction({
            let state = state.clone();
            move |conn| {
                let actor = Actor("webhook:intelipost".to_owned());
                intelipost::apply_push(conn, state.clock.now(), &actor, &merchant_id, &push)
            }
        })
        .await;
    match applied {
        Ok(PushOutcome::Applied {
            accepted,
            duplicates,
        }) => answer(
            StatusCode::OK,
            json!({ "accepted": accepted, "duplicates": duplicates }),
        ),
        Err(e) => failure(e),
    }
}

/// The one mapping of errors to HTTP for the webhook (the gRPC one is `status::to_status`).
fn failure(error: ServiceError) -> Response {
    let status = match &error {
        ServiceError::InvalidArgument { .. } => StatusCode::BAD_REQUEST,
        ServiceError::AlreadyExists { .. } => StatusCode::CONFLICT,
        ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::FailedPrecondition { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::error!(error = %error, "intelipost webhook failed");
    }
    // The field at fault, as a refused body names it (`{"error", "field"}`).
    let field = match &error {
        ServiceError::InvalidArgument { violations, .. } => {
            violations.first().map(|v| v.field.clone())
        }
        _ => None,
    };
    // Internal errors display as a fixed text: nothing of the database leaks.
    answer(
        status,
        json!({ "error": error.to_string(), "reason": error.reason(), "field": field }),
    )
}
