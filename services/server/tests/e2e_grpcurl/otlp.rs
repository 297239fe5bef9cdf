//! Issue 20.3: the binary's RPC spans, exported over OTLP to a collector the test runs.

use std::process::Stdio;
use std::time::Duration;

use fulfillment_core::testing::TestDb;

use crate::common::wait::wait_until_seen;
use crate::server::Server;

/// An OTLP/gRPC collector on port 0 keeping every span it is sent.
type Received = std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>;

struct Collector(Received);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(Default::default()))
    }
}

fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

/// Issue 20.3: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the binary exports each RPC's span over
/// OTLP, as a child of the caller's W3C `traceparent`, with its method, merchant and request id.
#[test]
fn each_rpc_is_a_span_of_the_callers_trace_exported_over_otlp() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (collector_addr, received) = start_collector(&runtime);
    let db = TestDb::new();
    let endpoint = format!("http://{collector_addr}");
    let server = Server::start_with(
        db.url(),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // Export every 100 ms rather than every 5 s: the test waits less.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        vec!["-plaintext".into()],
        Stdio::inherit(),
    );
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let (ok, text) = server.call(
        &[
            "-H",
            &format!("traceparent: 00-{trace}-{parent}-01"),
            "-H",
            "x-request-id: req-otlp-1",
            "-d",
            r#"{"merchant_id":"m-shenzhen","order_id":"o-fresh-1"}"#,
        ],
        &["fulfillment.v1.FulfillmentService/GetOrder"],
    );
    assert!(ok, "{text}");

    let span = get_order_span(&received, trace);
    assert_eq!(hex::encode(&span.parent_span_id), parent);
    assert_eq!(
        attribute(&span, "method").as_deref(),
        Some("fulfillment.v1.FulfillmentService/GetOrder")
    );
    assert_eq!(attribute(&span, "merchant").as_deref(), Some("m-shenzhen"));
    assert_eq!(
        attribute(&span, "request_id").as_deref(),
        Some("req-otlp-1")
    );
    assert_eq!(attribute(&span, "trace_id").as_deref(), Some(trace));
}

/// A collector on port 0, served from `runtime`: its address and what it receives.
fn start_collector(runtime: &tokio::runtime::Runtime) -> (std::net::SocketAddr, Received) {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let collector_addr = listener.local_addr().unwrap();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(received.clone())))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    (collector_addr, received)
}

/// The GetOrder span of `trace`, once it has reached the collector (grpcurl's reflection calls
/// carry the same header).
fn get_order_span(received: &Received, trace: &str) -> opentelemetry_proto::tonic::trace::v1::Span {
    wait_until_seen(
        "the GetOrder span reaches the collector",
        Duration::from_secs(30),
        || {
            let spans = received.lock().unwrap();
            spans
                .iter()
                .find(|s| {
                    s.name == "rpc"
                        && hex::encode(&s.trace_id) == trace
                        && attribute(s, "method").is_some_and(|m| m.ends_with("/GetOrder"))
                })
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "no rpc span of trace {trace} reached the collector; got {:?}",
                        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
                    )
                })
        },
    )
}
