//! Traces (issue 20.3): every span also lives in OpenTelemetry, so a call keeps the caller's
//! W3C trace across our logs, our outgoing carrier requests and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, an OTLP collector.
//!
//! The OpenTelemetry layer is installed even with no collector: it gives every span a trace id
//! (the caller's, or a new one) that outgoing requests carry, and costs a few microseconds a
//! span. Nothing leaves the process unless the endpoint is set. The exporter speaks OTLP over
//! gRPC (default port 4317) and reads the standard `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`
//! and `OTEL_BSP_*` variables itself.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The variable that turns export on (the OpenTelemetry specification's name).
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Keeps the tracer provider alive; dropping it flushes the spans not yet exported, so a
/// CronJob's last run reaches the collector before the pod goes.
pub struct Telemetry {
    provider: SdkTracerProvider,
    /// Where spans go, for the start-up line; `None` when only logs are written.
    pub exporting_to: Option<String>,
    /// Why export is off although the endpoint is set (a bad endpoint must not stop the
    /// service: it is logged once the subscriber is up).
    pub export_error: Option<String>,
}

impl Telemetry {
    /// Logs where traces go, once the subscriber exists.
    pub fn log_start(&self) {
        match (&self.exporting_to, &self.export_error) {
            (Some(endpoint), None) => {
                tracing::info!(endpoint = %endpoint, "exporting traces over OTLP")
            }
            (_, Some(error)) => {
                tracing::warn!(error = %error, "traces are not exported: the OTLP exporter cannot start")
            }
            (None, None) => {}
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            // The subscriber may be gone by now; stderr is where logs go anyway.
            eprintln!("traces: flushing at exit failed: {e}");
        }
    }
}

/// The tracer provider for `service`, exporting over OTLP when the endpoint is set. Must run
/// inside a tokio runtime (the gRPC exporter's channel needs one).
pub(crate) fn provider(service: &'static str) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service);
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    let endpoint = std::env::var(ENDPOINT_VAR).ok().filter(|e| !e.is_empty());
    let mut export_error = None;
    if endpoint.is_some() {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => builder = builder.with_batch_exporter(exporter),
            Err(e) => export_error = Some(e.to_string()),
        }
    }
    Telemetry {
        provider: builder.build(),
        exporting_to: endpoint,
        export_error,
    }
}

/// The tracing layer that mirrors spans into OpenTelemetry.
pub(crate) fn layer<S>(telemetry: &Telemetry) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(telemetry.provider.tracer("fulfillment"))
}

/// Makes `span` continue the caller's trace, given its W3C `traceparent` and `tracestate`
/// headers. A missing or malformed `traceparent` leaves the span the root of a new trace.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, tracestate: Option<&str>) {
    let headers = W3cHeaders {
        traceparent,
        tracestate,
    };
    let parent = TraceContextPropagator::new().extract(&headers);
    if parent.span().span_context().is_valid() {
        // Fails only without the OpenTelemetry layer (some tests); the span is then a plain
        // tracing span and there is no trace to continue.
        let _ = span.set_parent(parent);
    }
}

/// The span's trace id in W3C form (32 lowercase hex digits), when it has one.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

struct W3cHeaders<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for W3cHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}
