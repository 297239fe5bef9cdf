//! TrackingService and the Intelipost webhook on real PostgreSQL, over real gRPC and HTTP:
//! ingestion idempotency and event-time order (R21, R22), cancellation with who cancelled
//! (R15, R18), stuck trackings (R12, R13) and the webhook (R12, R14).

#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

use chrono::{Duration, Utc};
use common::*;
use diesel::prelude::*;
use fulfillment_proto::v1 as pb;

mod cancel;
mod events;
mod intelipost;

fn event(number: &str, id: &str, at: chrono::DateTime<Utc>, code: &str) -> pb::TrackingEvent {
    pb::TrackingEvent {
        carrier: "usps".into(),
        tracking_number: number.into(),
        event_id: id.into(),
        occurred_at: Some(ts(at)),
        carrier_status_code: code.into(),
        carrier_status_text: format!("{code} text"),
        location: "Memphis, TN".into(),
        raw_payload: format!("{{\"tag\":\"{code}\"}}"),
    }
}

fn count(conn: &mut PgConnection, table: &str) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("SELECT count(*) FROM {table}"))
        .get_result(conn)
        .unwrap()
}

async fn get_by_key(
    s: &mut TestServer,
    merchant: &str,
    carrier: &str,
    number: &str,
) -> pb::Tracking {
    s.tracking
        .get_tracking(pb::GetTrackingRequest {
            merchant_id: merchant.into(),
            lookup: Some(pb::get_tracking_request::Lookup::Key(pb::TrackingKey {
                carrier: carrier.into(),
                tracking_number: number.into(),
            })),
        })
        .await
        .unwrap()
        .into_inner()
        .tracking
        .unwrap()
}

/// A merchant with one order shipped with `carrier` `number` today.
async fn shipped(s: &mut TestServer, merchant: &str, order: &str, carrier: &str, number: &str) {
    s.release_at(merchant, order, today() - Duration::days(1), alice())
        .await;
    s.orders
        .fulfill_order(fulfil(merchant, order, carrier, number))
        .await
        .unwrap();
}

async fn stuck(
    s: &mut TestServer,
    merchant: &str,
    page_size: i32,
    token: &str,
) -> pb::ListStuckTrackingsResponse {
    s.tracking
        .list_stuck_trackings(pb::ListStuckTrackingsRequest {
            merchant_id: merchant.into(),
            page_size,
            page_token: token.into(),
        })
        .await
        .unwrap()
        .into_inner()
}
