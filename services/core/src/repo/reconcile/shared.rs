//! Writes more than one step makes: refunds (R5, R16), audit rows and outbox rows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Jsonb, Nullable, Text, Timestamptz};

use crate::models::{NewOrderEvent, NewOutboxEvent};
use crate::prepared::prepared;

/// Refunds a batch of orders (R5, R16), each with its reason.
pub fn write_refunds(
    conn: &mut PgConnection,
    refunds: &[(String, &'static str)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if refunds.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE orders o SET state = 'REFUNDED', refund_reason = u.reason, refunded_at = $3,
             updated_at = $3
         FROM unnest($1::text[], $2::text[]) AS u (id, reason)
         WHERE o.id = u.id",
    )
    .bind::<Array<Text>, _>(refunds.iter().map(|r| r.0.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(refunds.iter().map(|r| r.1.to_owned()).collect::<Vec<_>>())
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Appends a batch of audit rows in one statement, in the slice's order.
pub fn record_events(conn: &mut PgConnection, events: &[NewOrderEvent<'_>]) -> QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    macro_rules! column {
        ($field:ident) => {
            events
                .iter()
                .map(|e| e.$field.to_owned())
                .collect::<Vec<_>>()
        };
    }
    prepared(
        "INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after,
                                   policy_version, details, occurred_at)
         SELECT order_id, merchant_id, actor, kind, state_before, state_after, policy_version,
                details, occurred_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::int4[], $8::jsonb[], $9::timestamptz[])
         WITH ORDINALITY AS u (order_id, merchant_id, actor, kind, state_before, state_after,
                               policy_version, details, occurred_at, n)
         ORDER BY n",
    )
    .bind::<Array<Text>, _>(column!(order_id))
    .bind::<Array<Text>, _>(column!(merchant_id))
    .bind::<Array<Text>, _>(column!(actor))
    .bind::<Array<Text>, _>(column!(kind))
    .bind::<Array<Nullable<Text>>, _>(
        events
            .iter()
            .map(|e| e.state_before.map(str::to_owned))
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(column!(state_after))
    .bind::<Array<Nullable<Integer>>, _>(
        events.iter().map(|e| e.policy_version).collect::<Vec<_>>(),
    )
    .bind::<Array<Jsonb>, _>(events.iter().map(|e| e.details.clone()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(events.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
    .execute(conn)
}

/// Queues a batch of outbox rows in one statement; a repeated `event_id` is ignored (its cause
/// already asked once).
pub fn enqueue_events(
    conn: &mut PgConnection,
    events: &[NewOutboxEvent<'_>],
) -> QueryResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    prepared(
        "INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at)
         SELECT event_id, event_type, merchant_id, order_id, payload, created_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
           WITH ORDINALITY AS u (event_id, event_type, merchant_id, order_id, payload, created_at, n)
         ORDER BY n
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind::<Array<Text>, _>(events.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(
        events
            .iter()
            .map(|e| e.event_type.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(
        events
            .iter()
            .map(|e| e.merchant_id.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(
        events
            .iter()
            .map(|e| e.order_id.map(str::to_owned))
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Jsonb>, _>(events.iter().map(|e| e.payload.clone()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .execute(conn)
}
