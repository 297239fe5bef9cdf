//! The HTTP side shared by the dispatch clients: one client per account, the body read with
//! the tracking clients' cap, and the statuses (and SOAP faults) every carrier maps the same way.

use std::time::{Duration, SystemTime};

use reqwest::{RequestBuilder, StatusCode};

use super::{DispatchError, soap};
use crate::error::{TrackError, excerpt};
use crate::http::{self, Answer};

/// The base URL (without its trailing slash) and the client of one carrier account.
pub(crate) fn connect(
    base_url: impl Into<String>,
    timeout: Duration,
) -> Result<(String, reqwest::Client), DispatchError> {
    Ok((trim_base(base_url.into()), build_client(timeout)?))
}

/// The dispatch client of one SOAP account (Paczka w Ruchu, Poczta Polska): where to send,
/// the account, and the HTTP client. Both carriers hold exactly these and connect the same
/// way, so they share this one type and constructor; each adds its own calls in its own
/// `impl` block (see `PaczkaWRuchuDispatcher` and `PocztaPolskaDispatcher`).
#[derive(Debug, Clone)]
pub struct SoapDispatcher<S> {
    pub(crate) endpoint: String,
    pub(crate) settings: S,
    pub(crate) http: reqwest::Client,
}

impl<S> SoapDispatcher<S> {
    /// `base_url`: the service endpoint (the `.asmx` or `.php` the carrier publishes).
    pub fn new(
        base_url: impl Into<String>,
        settings: S,
        timeout: Duration,
    ) -> Result<Self, DispatchError> {
        let (endpoint, http) = connect(base_url, timeout)?;
        Ok(Self {
            endpoint,
            settings,
            http,
        })
    }
}

/// A client for one carrier account: the whole-request timeout, no cookies, a user agent.
fn build_client(timeout: Duration) -> Result<reqwest::Client, DispatchError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("fulfillment-carriers/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DispatchError::Unavailable(format!("cannot build the HTTP client: {e}")))
}

/// A base URL without its trailing slash.
fn trim_base(url: String) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Sends the request and reads the whole body, whatever the status.
pub(crate) async fn send(request: RequestBuilder) -> Result<Answer, DispatchError> {
    http::send(request).await.map_err(from_transport)
}

fn from_transport(error: TrackError) -> DispatchError {
    match error {
        TrackError::Timeout => DispatchError::Timeout,
        TrackError::Malformed(m) => DispatchError::Malformed(m),
        TrackError::Transport(m) => DispatchError::Unavailable(m),
        TrackError::RateLimited { retry_after } => DispatchError::RateLimited { retry_after },
        TrackError::Unauthorized => DispatchError::CredentialsRejected,
        TrackError::NotFound => DispatchError::NotFound,
        TrackError::Carrier { status, message } => DispatchError::Http { status, message },
    }
}

/// The statuses every carrier maps the same way: 401/403 are the account's credentials, 429 a
/// rate limit, 5xx an unavailable carrier. `None` for the others, which each client reads.
pub(crate) fn common_status(answer: &Answer) -> Option<DispatchError> {
    let status = answer.status;
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Some(DispatchError::CredentialsRejected)
        }
        StatusCode::TOO_MANY_REQUESTS => Some(DispatchError::RateLimited {
            retry_after: http::retry_after(&answer.headers, SystemTime::now()),
        }),
        s if s.is_server_error() => Some(unavailable(answer)),
        _ => None,
    }
}

/// [`DispatchError::Unavailable`] naming the status, with a short excerpt of the body.
pub(crate) fn unavailable(answer: &Answer) -> DispatchError {
    DispatchError::Unavailable(format!(
        "HTTP {}: {}",
        answer.status.as_u16(),
        excerpt(&answer.body)
    ))
}

/// [`DispatchError::Http`] for a status the carrier does not document.
pub(crate) fn unexpected(answer: &Answer) -> DispatchError {
    DispatchError::Http {
        status: answer.status.as_u16(),
        message: excerpt(&answer.body),
    }
}

/// A SOAP carrier's answer as a document; a SOAP fault (credentials, server, or the carrier's
/// own refusal) or an unexpected HTTP status is the error. Shared by the SOAP clients.
pub(crate) fn soap_answer(answer: Answer) -> Result<soap::Element, DispatchError> {
    let parsed = text(&answer).and_then(soap::parse);
    if let Ok(doc) = &parsed
        && let Some(fault) = soap::fault(doc)
    {
        return Err(if fault.is_authentication() {
            DispatchError::CredentialsRejected
        } else if fault.is_server() {
            DispatchError::Unavailable(format!(
                "SOAP fault {}: {}",
                fault.code,
                excerpt(fault.message.as_bytes())
            ))
        } else {
            DispatchError::Carrier {
                code: fault.code,
                message: excerpt(fault.message.as_bytes()),
            }
        });
    }
    if !answer.status.is_success() {
        return Err(common_status(&answer).unwrap_or_else(|| unexpected(&answer)));
    }
    parsed
}

/// The body as text; a carrier that documents UTF-8 and sends something else is malformed.
pub(crate) fn text(answer: &Answer) -> Result<&str, DispatchError> {
    std::str::from_utf8(&answer.body)
        .map_err(|_| DispatchError::Malformed("the body is not UTF-8".into()))
}
