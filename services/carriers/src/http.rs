//! HTTP plumbing shared by the carrier clients: one `reqwest::Client` per carrier with its
//! timeout, a capped body read, and the usual mapping of HTTP outcomes to [`TrackError`].

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};

/// Largest body we read from a carrier; a tracking answer is a few KiB, anything this big is
/// not what the carrier documents.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A client for one carrier: the configured whole-request timeout, no cookies, a user agent.
pub fn build_client(config: &CarrierConfig) -> Result<reqwest::Client, TrackError> {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(concat!("fulfillment-carriers/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| TrackError::Transport(describe(&e)))
}

/// A carrier's answer, its body read in full (up to [`MAX_BODY_BYTES`]).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text; a carrier that documents UTF-8 and sends something else is malformed.
    pub fn text(&self) -> Result<&str, TrackError> {
        std::str::from_utf8(&self.body)
            .map_err(|_| TrackError::Malformed("the body is not UTF-8".into()))
    }

    /// Whether the body may say more than the status: a 4xx other than 429. A 429 and a 5xx
    /// keep their meaning (back off, retry later) whatever the body says.
    pub fn body_may_explain(&self) -> bool {
        !matches!(self.status.as_u16(), 429 | 500..)
    }

    /// The body read as the JSON `T` (a carrier's error shape), `None` when it is not one.
    pub(crate) fn json<'a, T: serde::Deserialize<'a>>(&'a self) -> Option<T> {
        self.text().ok().and_then(|t| serde_json::from_str(t).ok())
    }
}

/// Sends the request and reads the whole body, whatever the status. Only transport problems
/// (timeout, connection, oversized body) are errors here: see [`check_status`].
pub async fn send(request: RequestBuilder) -> Result<Answer, TrackError> {
    let mut response = with_trace_context(request)
        .send()
        .await
        .map_err(map_reqwest)?;
    let status = response.status();
    let headers = response.headers().clone();
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(map_reqwest)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The current span's W3C `traceparent` (and `tracestate`) on the request (issue 20.3), so a
/// carrier call is part of the trace of the RPC or worker run that made it. Nothing is added
/// when no propagator is installed (the binaries install one at start).
fn with_trace_context(request: RequestBuilder) -> RequestBuilder {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = tracing::Span::current().context();
    let mut headers = TraceHeaders(Vec::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers);
    });
    headers
        .0
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        })
}

struct TraceHeaders(Vec<(String, String)>);

impl opentelemetry::propagation::Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// [`send`], then [`check_status`]: for carriers with no special rules.
pub async fn execute(request: RequestBuilder) -> Result<Answer, TrackError> {
    execute_explained(request, |_| None).await
}

/// [`send`], then the status: a 2xx answer is returned; for any other, the carrier's own
/// error when `explain` reads one in the body (carriers whose error bodies say more than the
/// status), else [`check_status`]'s usual mapping.
pub async fn execute_explained(
    request: RequestBuilder,
    explain: impl FnOnce(&Answer) -> Option<TrackError>,
) -> Result<Answer, TrackError> {
    let answer = send(request).await?;
    if !answer.status.is_success() {
        if let Some(err) = explain(&answer) {
            return Err(err);
        }
        check_status(&answer)?;
    }
    Ok(answer)
}

/// The usual mapping: 2xx is fine, 401/403 → Unauthorized, 404 → NotFound, 429 →
/// RateLimited (with `Retry-After`), 5xx and any other status → Carrier.
pub fn check_status(answer: &Answer) -> Result<(), TrackError> {
    let status = answer.status;
    if status.is_success() {
        return Ok(());
    }
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TrackError::Unauthorized,
        StatusCode::NOT_FOUND => TrackError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => TrackError::RateLimited {
            retry_after: retry_after(&answer.headers, SystemTime::now()),
        },
        _ => carrier_error(answer),
    })
}

/// A [`TrackError::Carrier`] naming the status, with a short excerpt of the body.
pub fn carrier_error(answer: &Answer) -> TrackError {
    TrackError::Carrier {
        status: answer.status.as_u16(),
        message: excerpt(&answer.body),
    }
}

/// The `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); a date in the
/// past means "now".
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is valid RFC 2822.
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    let now: DateTime<Utc> = now.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Parses a JSON body (or part of one) the carrier documents; anything else is malformed.
pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(
    text: &'a str,
    what: &str,
) -> Result<T, TrackError> {
    serde_json::from_str(text).map_err(|e| TrackError::Malformed(format!("{what}: {e}")))
}

/// Percent-encodes one URL path segment (unreserved characters pass as they are).
pub(crate) fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn too_large() -> TrackError {
    TrackError::Malformed(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
}

fn map_reqwest(error: reqwest::Error) -> TrackError {
    if error.is_timeout() {
        TrackError::Timeout
    } else {
        TrackError::Transport(describe(&error))
    }
}

/// The error and its causes, without the URL (which may carry a tracking number or, when
/// someone configured one, userinfo).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37Z
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:50:37 GMT"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("1Z 99/x?"), "1Z%2099%2Fx%3F");
        assert_eq!(path_segment("china-post"), "china-post");
    }

    #[test]
    fn status_mapping() {
        assert_eq!(check_status(&answer(200, "")), Ok(()));
        assert_eq!(
            check_status(&answer(401, "")),
            Err(TrackError::Unauthorized)
        );
        assert_eq!(
            check_status(&answer(403, "")),
            Err(TrackError::Unauthorized)
        );
        assert_eq!(check_status(&answer(404, "")), Err(TrackError::NotFound));
        assert_eq!(
            check_status(&answer(429, "")),
            Err(TrackError::RateLimited { retry_after: None })
        );
        assert_eq!(
            check_status(&answer(503, "down\nfor maintenance")),
            Err(TrackError::Carrier {
                status: 503,
                message: "down for maintenance".into()
            })
        );
        assert!(matches!(
            check_status(&answer(400, "bad")),
            Err(TrackError::Carrier { status: 400, .. })
        ));
    }

    /// Issue 20.3: a carrier request carries the W3C trace of the span that made it.
    #[tokio::test]
    async fn a_carrier_request_carries_the_current_trace() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        use tracing_subscriber::layer::SubscriberExt;
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _guard = tracing::subscriber::set_default(subscriber);

        let carrier = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&carrier)
            .await;
        let span = tracing::info_span!("poll");
        let trace = {
            use opentelemetry::trace::TraceContextExt;
            span.context().span().span_context().trace_id().to_string()
        };
        let request = reqwest::Client::new().get(carrier.uri());
        let _entered = span.enter();
        send(request).await.unwrap();

        let received = carrier.received_requests().await.unwrap();
        let traceparent = received[0]
            .headers
            .get("traceparent")
            .expect("the request has a traceparent")
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            traceparent.split('-').nth(1),
            Some(trace.as_str()),
            "{traceparent}"
        );
        assert!(
            traceparent.starts_with("00-") && traceparent.len() == 55,
            "{traceparent}"
        );
    }
}
