//! The tower layer in front of every gRPC call: counts and times it, and gives it a span
//! carrying its method, request id and trace id.

use std::time::Instant;

use super::{SharedMetrics, method_labels};

/// Counts, times and names every gRPC call (the gate's refusals included, as this layer sits
/// outside it). The code is the `grpc-status` of the response headers (tonic answers an error
/// as headers only), else `OK`: a stream that fails after its first message counts as OK.
///
/// Each call runs in a `rpc` span with its method, its request id (an incoming `x-request-id`
/// of up to 128 visible characters is kept, else one is made; either way it is echoed in the
/// response headers) and the trace id of an incoming W3C `traceparent`, so every log line of
/// the call can be found from what the caller saw.
#[derive(Clone)]
pub struct MetricsLayer(pub SharedMetrics);

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: SharedMetrics,
}

type BoxFuture<T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B, RB> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let request_id = request_id(request.headers());
        let (service, method) = method_labels(&path);
        // `caller` and `merchant` are filled in by the gate and the merchant check, which run
        // inside this span.
        let span = tracing::info_span!(
            "rpc",
            method = %format_args!("{service}/{method}"),
            request_id = %request_id,
            trace_id = tracing::field::Empty,
            caller = tracing::field::Empty,
            merchant = tracing::field::Empty,
        );
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        fulfillment_core::telemetry::continue_trace(
            &span,
            header("traceparent"),
            header("tracestate"),
        );
        // The OpenTelemetry trace (the caller's or a new one); without the layer (in-process
        // tests) the caller's, read from the header.
        if let Some(trace) =
            fulfillment_core::telemetry::trace_id(&span).or_else(|| trace_id(request.headers()))
        {
            span.record("trace_id", trace);
        }
        // The clone that was polled ready serves this call (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(
            async move {
                let mut response = inner.call(request).await;
                if let Ok(response) = &mut response
                    && let Ok(value) = http::HeaderValue::from_str(&request_id)
                {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                if let Ok(response) = &response {
                    let code = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
                    metrics.observe_rpc(&path, code_name(code), started);
                }
                response
            }
            .instrument(span),
        )
    }
}

/// The request id header, read and echoed.
pub const REQUEST_ID: &str = "x-request-id";

/// The caller's request id if it is one we can echo safely, else a new one.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .or_else(|| fulfillment_core::secrets::random_id("req").ok())
        .unwrap_or_else(|| "req-unknown".into())
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if well-formed.
fn trace_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace != "0".repeat(32))
    .then(|| trace.to_ascii_lowercase())
}

/// The gRPC code's canonical name (`INVALID_ARGUMENT`), as Prometheus' gRPC dashboards expect.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(name, http::HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_w3c_traceparent_gives_its_trace_id_and_a_malformed_one_none() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id(&headers("traceparent", ok)).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(trace_id(&headers("traceparent", bad)), None, "{bad}");
        }
    }

    #[test]
    fn a_callers_request_id_is_kept_when_safe_and_made_otherwise() {
        assert_eq!(request_id(&headers(REQUEST_ID, "abc-123")), "abc-123");
        let long = "x".repeat(129);
        assert!(request_id(&headers(REQUEST_ID, &long)).starts_with("req-"));
        assert!(request_id(&http::HeaderMap::new()).starts_with("req-"));
    }
}
