//! Issue 20.2: `/metrics` on the HTTP port, scraped for real: what the server counts as it
//! serves and what it reads from the database, with bounded labels.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use chrono::Duration;
use common::{TestServer, alice, error_reason, fulfil, today, ts};
use fulfillment_core::repo::worker_runs;
use fulfillment_proto::v1 as pb;
use serde_json::json;

/// The value of the sample `name{labels}` in a text exposition, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Metric names (ours and the gRPC ones) appearing in `text`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for prefix in ["fulfillment_", "grpc_server_"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

async fn scrape(s: &TestServer) -> String {
    let response = reqwest::get(format!("http://{}/metrics", s.webhook))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_rpcs_by_method_and_code_read_the_workers_and_name_no_order() {
    let mut s = TestServer::start().await;
    serve_what_the_metrics_count(&mut s).await;
    let text = scrape(&s).await;
    rpcs_are_counted_by_method_and_code(&text);
    the_workers_webhooks_pool_and_outbox_are_read(&text);
    the_charts_queries_are_all_exported(&text);
    // Bounded labels: no order, merchant or caller-chosen value ever becomes one.
    for id in ["o-1", "o-404", "m-1"] {
        assert!(!text.contains(id), "{id} in the metrics:\n{text}");
    }
    s.stop().await;
}

/// Calls that succeed and fail, a refused webhook delivery, an outbox consumer, and worker
/// runs recorded as the CronJobs record them.
async fn serve_what_the_metrics_count(s: &mut TestServer) {
    s.merchant("m-1", "US").await;
    s.release_at("m-1", "o-1", today() - Duration::hours(2), alice())
        .await;
    s.get("m-1", "o-1").await;
    // Issue 20.3: the caller's request id comes back; without one, the server makes one.
    let mut asked = tonic::Request::new(pb::GetOrderRequest {
        merchant_id: "m-1".into(),
        order_id: "o-1".into(),
    });
    asked
        .metadata_mut()
        .insert("x-request-id", "support-ticket-42".parse().unwrap());
    let answered = s.orders.get_order(asked).await.unwrap();
    assert_eq!(
        answered.metadata().get("x-request-id").unwrap(),
        "support-ticket-42"
    );
    let missing = s
        .orders
        .get_order(pb::GetOrderRequest {
            merchant_id: "m-1".into(),
            order_id: "o-404".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let bad = s
        .orders
        .fulfill_order(fulfil("m-1", "o-1", "usps", ""))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    // A webhook delivery without credentials.
    let hook = reqwest::Client::new()
        .post(format!(
            "http://{}/couriers/intelipost/trackings/v1",
            s.webhook
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 401);
    // An outbox consumer that names itself: its backlog is exported (the dashboard reads it).
    s.orders
        .list_outbox_events(pb::ListOutboxEventsRequest {
            consumer: "notifier".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // A worker run the server did not make: CronJob pods are never scraped themselves.
    {
        let mut conn = s.conn();
        let now = today();
        let run = worker_runs::start(&mut conn, "deadline-enforcer", false, now).unwrap();
        worker_runs::finish(
            &mut conn,
            run,
            json!({"claimed": 3, "refunded": 2}),
            None,
            now,
        )
        .unwrap();
        let dry = worker_runs::start(&mut conn, "deadline-enforcer", true, now).unwrap();
        worker_runs::finish(&mut conn, dry, json!({"refunded": 40}), None, now).unwrap();
    }
}

fn rpcs_are_counted_by_method_and_code(text: &str) {
    let fs = r#"grpc_service="fulfillment.v1.FulfillmentService""#;
    assert_eq!(
        sample(
            text,
            &format!(r#"grpc_server_handled_total{{{fs},grpc_method="GetOrder",grpc_code="OK"}}"#)
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            text,
            &format!(
                r#"grpc_server_handled_total{{{fs},grpc_method="GetOrder",grpc_code="NOT_FOUND"}}"#
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            &format!(
                r#"grpc_server_handled_total{{{fs},grpc_method="FulfillOrder",grpc_code="INVALID_ARGUMENT"}}"#
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            &format!(r#"grpc_server_handling_seconds_count{{{fs},grpc_method="GetOrder"}}"#)
        ),
        Some(3.0)
    );
}

fn the_workers_webhooks_pool_and_outbox_are_read(text: &str) {
    assert_eq!(
        sample(
            text,
            r#"fulfillment_webhook_deliveries_total{outcome="401"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            text,
            r#"fulfillment_worker_last_success_timestamp_seconds{worker="deadline-enforcer"}"#
        ),
        Some(today().timestamp() as f64)
    );
    // Dry runs decide nothing.
    assert_eq!(
        sample(
            text,
            r#"fulfillment_worker_decisions{worker="deadline-enforcer",count="refunded"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            text,
            r#"fulfillment_worker_runs{worker="deadline-enforcer",outcome="completed"}"#
        ),
        Some(2.0)
    );
    assert!(sample(text, "fulfillment_db_pool_max_connections").is_some_and(|n| n >= 1.0));
    assert!(sample(text, r#"fulfillment_build_info{version="0.1.0"}"#) == Some(1.0));
    assert!(sample(text, "fulfillment_outbox_events").is_some());
    assert_eq!(
        sample(text, r#"fulfillment_bulk_rows{outcome="accepted"}"#),
        Some(0.0),
        "every outcome has a series before the first upload"
    );
}

/// Issue 20.4: every metric the chart's alerts and dashboard query is one this scrape holds.
fn the_charts_queries_are_all_exported(text: &str) {
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../helm/fulfillment/templates/prometheusrule.yaml"),
    )
    .unwrap();
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../helm/fulfillment/dashboards/fulfillment.json"),
    )
    .unwrap();
    let mut queried = metric_names(&rules);
    // The dashboard's histogram queries read the `_bucket` series of a histogram.
    queried.extend(
        metric_names(&dashboard)
            .into_iter()
            .map(|n| n.trim_end_matches("_bucket").to_owned()),
    );
    assert!(queried.len() >= 5, "{queried:?}");
    for name in &queried {
        // A sample, or the family's declaration (a family with no series yet, such as bulk
        // jobs before the first upload; a counter is declared without its `_total`).
        let family = name.trim_end_matches("_total");
        let exported = text.lines().any(|l| {
            l.starts_with(name.as_str()) && l[name.len()..].starts_with(['{', ' '])
                || l == format!("# TYPE {family} gauge")
                || l == format!("# TYPE {family} counter")
                || l == format!("# TYPE {family} histogram")
        });
        assert!(
            exported,
            "the rules or the dashboard query {name}, which the server does not export:\n{text}"
        );
    }
}

/// Issue 20.2: the poller's carrier figures (written into its runs, as CronJob pods are never
/// scraped), the unknown codes the server saw itself, and the pool's waits.
#[tokio::test]
async fn carrier_polls_unknown_statuses_and_pool_waits_are_exported() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    {
        let mut conn = s.conn();
        let now = today();
        let run = worker_runs::start(&mut conn, "tracker-poller", false, now).unwrap();
        worker_runs::finish(
            &mut conn,
            run,
            json!({
                "polled": 5,
                "poll:inpost:ok": 4,
                "poll:inpost:rate_limited": 1,
                "poll_le:inpost:0.1": 3,
                "poll_le:inpost:1": 1,
                "poll_le:inpost:+Inf": 1,
                "poll_us:inpost": 12_500_000,
                "unknown:wishpost:42": 2,
            }),
            None,
            now,
        )
        .unwrap();
    }
    // A status code InPost's table does not know, pushed by a caller: counted by the server.
    let ingest = s
        .tracking
        .ingest_tracking_events(pb::IngestTrackingEventsRequest {
            events: vec![pb::TrackingEvent {
                carrier: "inpost".into(),
                tracking_number: "520000011395200025754311".into(),
                event_id: "e-1".into(),
                occurred_at: Some(ts(today())),
                carrier_status_code: "metrics_test_teleported".into(),
                ..Default::default()
            }],
        })
        .await;
    assert!(ingest.is_ok(), "{ingest:?}");

    let text = scrape(&s).await;
    the_pollers_figures_are_exported(&text);
    assert_eq!(
        sample(
            &text,
            r#"fulfillment_carrier_unknown_statuses_total{carrier="wishpost",code="42"}"#
        ),
        Some(2.0)
    );
    assert!(
        sample(
            &text,
            r#"fulfillment_carrier_unknown_statuses_total{carrier="inpost",code="metrics_test_teleported"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // The carrier keys are not decisions.
    assert!(!text.contains(r#"count="poll:"#), "{text}");
    assert!(
        sample(&text, "fulfillment_db_pool_wait_seconds_count").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    s.stop().await;
}

/// The poll outcomes and the duration histogram, from the poller's run.
fn the_pollers_figures_are_exported(text: &str) {
    let polls = |outcome: &str| {
        sample(
            text,
            &format!(r#"fulfillment_carrier_polls_total{{carrier="inpost",outcome="{outcome}"}}"#),
        )
    };
    assert_eq!(polls("ok"), Some(4.0), "{text}");
    assert_eq!(polls("rate_limited"), Some(1.0));
    let bucket = |le: &str| {
        sample(
            text,
            &format!(
                r#"fulfillment_carrier_poll_duration_seconds_bucket{{le="{le}",carrier="inpost"}}"#
            ),
        )
    };
    // Cumulative, as Prometheus reads a histogram.
    assert_eq!(bucket("0.05"), Some(0.0), "{text}");
    assert_eq!(bucket("0.1"), Some(3.0));
    assert_eq!(bucket("1.0"), Some(4.0));
    assert_eq!(bucket("+Inf"), Some(5.0));
    assert_eq!(
        sample(
            text,
            r#"fulfillment_carrier_poll_duration_seconds_sum{carrier="inpost"}"#
        ),
        Some(12.5)
    );
}

/// Issue 20.2: a consumer naming itself in ListOutboxEvents has its backlog on `/metrics`,
/// and reading on clears it.
#[tokio::test]
async fn an_outbox_consumers_backlog_and_oldest_unread_age_are_exported() {
    use diesel::RunQueryDsl;
    let mut s = TestServer::start().await;
    for id in ["ev-1", "ev-2"] {
        diesel::sql_query(format!(
            "INSERT INTO outbox (event_id, event_type, merchant_id, payload)
             VALUES ('{id}', 'refund.requested', 'm-1', '{{}}')"
        ))
        .execute(&mut s.conn())
        .unwrap();
    }
    let list = |token: &str, consumer: &str| pb::ListOutboxEventsRequest {
        page_token: token.into(),
        consumer: consumer.into(),
        ..Default::default()
    };
    // The feed shows a transaction's rows once every older transaction of the cluster has
    // ended (parallel tests hold some): read until both are there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let first = loop {
        let page = s
            .orders
            .list_outbox_events(list("", "notifier"))
            .await
            .unwrap()
            .into_inner();
        if page.events.len() == 2 {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "{page:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let written = first.events.len();
    let text = scrape(&s).await;
    assert_eq!(
        sample(
            &text,
            r#"fulfillment_outbox_backlog_events{consumer="notifier"}"#
        ),
        Some(written as f64),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"fulfillment_outbox_oldest_unconsumed_age_seconds{consumer="notifier"}"#
        )
        .is_some_and(|age| age >= 0.0)
    );
    // Resuming from the token says those events were handled.
    s.orders
        .list_outbox_events(list(&first.next_page_token, "notifier"))
        .await
        .unwrap();
    // An old page read again (a retry) does not move the position back.
    s.orders
        .list_outbox_events(list("", "notifier"))
        .await
        .unwrap();
    let text = scrape(&s).await;
    assert_eq!(
        sample(
            &text,
            r#"fulfillment_outbox_backlog_events{consumer="notifier"}"#
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"fulfillment_outbox_oldest_unconsumed_age_seconds{consumer="notifier"}"#
        ),
        Some(0.0)
    );
    let bad = s
        .orders
        .list_outbox_events(list("", "Not A Name"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(error_reason(&bad).1, vec!["consumer".to_owned()]);
    s.stop().await;
}

#[tokio::test]
async fn a_path_outside_the_contract_is_counted_as_unknown() {
    let s = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect_lazy();
    let method = common::raw::Method {
        path: "/evil.Service/m-123-order-o-9".into(),
        name: "x".into(),
        server_streaming: false,
        merchant_id_field: None,
        first_string_field: None,
    };
    let err = common::raw::call(&channel, &method, None, Vec::new())
        .await
        .unwrap_err();
    assert_ne!(err.code(), tonic::Code::Ok);
    let text = scrape(&s).await;
    assert!(!text.contains("evil") && !text.contains("o-9"), "{text}");
    assert!(
        text.contains(r#"grpc_service="unknown",grpc_method="unknown""#),
        "{text}"
    );
    s.stop().await;
}
