//! ListOutboxEvents (R9: other systems follow the outbox at least once, from any point, with no
//! gap when transactions commit out of order) and ListWorkerRuns.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;
use tonic::Code;

async fn page(
    s: &mut TestServer,
    types: &[&str],
    size: i32,
    token: &str,
) -> pb::ListOutboxEventsResponse {
    s.orders
        .list_outbox_events(pb::ListOutboxEventsRequest {
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            page_size: size,
            page_token: token.into(),
            consumer: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Pages until at least `want` events come back: the feed shows a transaction's rows once every
/// older transaction of the cluster has ended, and parallel tests hold transactions of their own.
async fn page_with(
    s: &mut TestServer,
    types: &[&str],
    size: i32,
    token: &str,
    want: usize,
) -> pb::ListOutboxEventsResponse {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let p = page(s, types, size, token).await;
        if p.events.len() >= want || std::time::Instant::now() > deadline {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn outbox_row(id: &str) -> String {
    format!(
        "INSERT INTO outbox (event_id, event_type, merchant_id, payload) VALUES ('{id}', 'refund.requested', 'm-1', '{{\"n\": 1}}')"
    )
}

#[tokio::test]
async fn r9_the_outbox_is_followed_page_by_page_without_gaps() {
    let mut s = TestServer::start().await;
    s.merchant("m-1", "US").await;
    for i in 0..3 {
        let id = format!("o-{i}");
        s.release_at("m-1", &id, today() - Duration::days(1), alice())
            .await;
        s.orders
            .fulfill_order(fulfil(
                "m-1",
                &id,
                "usps",
                &format!("9400111899220000000{i}"),
            ))
            .await
            .unwrap();
    }
    // Three customer notifications (R9), read one page at a time.
    let mut token = String::new();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let p = page_with(&mut s, &["customer.notified"], 1, &token, 1).await;
        assert_eq!(p.events.len(), 1);
        let e = &p.events[0];
        assert_eq!(e.event_type, "customer.notified");
        assert!(e.id.starts_with("customer.notified:"), "{}", e.id);
        let payload = e.payload.as_ref().unwrap();
        assert!(payload.fields.contains_key("tracking_number"));
        seen.push(e.order_id.clone());
        token = p.next_page_token;
    }
    assert_eq!(seen, ["o-0", "o-1", "o-2"]);
    // At the end: nothing, and a token to poll with.
    let end = page(&mut s, &[], 10, &token).await;
    assert!(end.events.is_empty() && !end.next_page_token.is_empty());
    assert!(
        page(&mut s, &["refund.requested"], 10, "")
            .await
            .events
            .is_empty()
    );

    // Two writers commit out of order: the one that started first commits last. Nothing is
    // shown past the unfinished one, so a consumer's cursor never skips its row.
    let mut first = s.conn();
    let mut second = s.conn();
    first.batch_execute("BEGIN").unwrap();
    first.batch_execute(&outbox_row("late-writer")).unwrap();
    second
        .batch_execute(&outbox_row("early-committer"))
        .unwrap();
    let during = page(&mut s, &["refund.requested"], 10, &token).await;
    assert!(during.events.is_empty(), "{:?}", during.events);
    first.batch_execute("COMMIT").unwrap();
    let after = page_with(&mut s, &["refund.requested"], 10, &token, 2).await;
    let ids: Vec<_> = after.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["late-writer", "early-committer"]);
    // Resuming from any token returns what followed it, again (at least once).
    let again = page(&mut s, &["refund.requested"], 10, &token).await;
    assert_eq!(again.events, after.events);

    for (size, token, field) in [(5000, "", "page_size"), (10, "garbage", "page_token")] {
        let err = s
            .orders
            .list_outbox_events(pb::ListOutboxEventsRequest {
                event_types: vec![],
                page_size: size,
                page_token: token.into(),
                consumer: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(error_reason(&err).1, [field]);
    }
    s.stop().await;
}

#[tokio::test]
async fn worker_runs_are_listed_newest_first_by_worker() {
    let mut s = TestServer::start().await;
    let mut conn = s.conn();
    use fulfillment_core::repo::worker_runs;
    let a = worker_runs::start(&mut conn, "tracker-poller", false, today()).unwrap();
    worker_runs::finish(
        &mut conn,
        a,
        serde_json::json!({"claimed": 5, "failed": 1}),
        None,
        today() + Duration::seconds(3),
    )
    .unwrap();
    let b = worker_runs::start(&mut conn, "deadline-enforcer", false, today()).unwrap();
    worker_runs::finish(
        &mut conn,
        b,
        serde_json::json!({}),
        Some("database gone"),
        today(),
    )
    .unwrap();
    worker_runs::start(&mut conn, "tracker-poller", true, today()).unwrap();

    let list = |worker: &str, size: i32, token: &str| pb::ListWorkerRunsRequest {
        worker: worker.into(),
        page_size: size,
        page_token: token.into(),
    };
    let first = s
        .orders
        .list_worker_runs(list("tracker-poller", 1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.runs.len(), 1);
    assert_eq!(
        (first.runs[0].outcome.as_str(), first.runs[0].dry_run),
        ("running", true)
    );
    assert!(first.runs[0].finish_time.is_none());
    let second = s
        .orders
        .list_worker_runs(list("tracker-poller", 1, &first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    let run = &second.runs[0];
    assert_eq!(run.outcome, "completed");
    assert_eq!(run.counts.get("claimed"), Some(&5));
    assert!(second.next_page_token.is_empty());
    let all = s
        .orders
        .list_worker_runs(list("", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.runs.len(), 3);
    assert_eq!(all.runs[1].error, "database gone");
    let count: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM worker_runs")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(count, 3);
    s.stop().await;
}
