//! Reading the outbox (R9) for other systems, at least once, from any point.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};

/// An outbox row with its position.
#[derive(Debug, Clone, QueryableByName)]
pub struct Positioned {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub event_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Text)]
    pub merchant_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_id: Option<String>,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// The writing transaction's id (xid8, as decimal text).
    #[diesel(sql_type = Text)]
    pub txid: String,
}

/// Rows after the position (`txid`, `id`), in (transaction, row) order, only from transactions
/// older than every transaction still running: a transaction that commits later can never add
/// a row before a position already handed out, so a consumer following the cursor misses
/// nothing. `event_types` empty: all types.
pub fn after(
    conn: &mut PgConnection,
    txid: &str,
    id: i64,
    event_types: &[String],
    limit: i64,
) -> QueryResult<Vec<Positioned>> {
    diesel::sql_query(
        "SELECT id, event_id, event_type, merchant_id, order_id, payload, created_at,
                txid::text AS txid
         FROM outbox
         WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
           AND (txid, id) > ($1::xid8, $2)
           AND (cardinality($3::text[]) = 0 OR event_type = ANY($3))
         ORDER BY txid, id
         LIMIT $4",
    )
    .bind::<Text, _>(txid)
    .bind::<BigInt, _>(id)
    .bind::<Array<Text>, _>(event_types)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// Records that `consumer` has handled every event before `(txid, id)` (of `event_types`, all
/// when empty). A position never moves back: a consumer re-reading an old page (a retry, a
/// second replica) does not grow its backlog.
pub fn record_consumer(
    conn: &mut PgConnection,
    consumer: &str,
    txid: &str,
    id: i64,
    event_types: &[String],
) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO outbox_consumers (consumer, txid, id, event_types, read_at)
         VALUES ($1, $2::xid8, $3, $4, now())
         ON CONFLICT (consumer) DO UPDATE
            SET txid = excluded.txid, id = excluded.id, event_types = excluded.event_types,
                read_at = excluded.read_at
          WHERE (outbox_consumers.txid, outbox_consumers.id) <= (excluded.txid, excluded.id)",
    )
    .bind::<Text, _>(consumer)
    .bind::<Text, _>(txid)
    .bind::<BigInt, _>(id)
    .bind::<Array<Text>, _>(event_types)
    .execute(conn)
}

/// One consumer's backlog: events after its position (counted up to [`BACKLOG_COUNT_CAP`]) and
/// the age in seconds of the oldest of them (0 when none).
#[derive(Debug, Clone, QueryableByName)]
pub struct Backlog {
    #[diesel(sql_type = Text)]
    pub consumer: String,
    #[diesel(sql_type = BigInt)]
    pub events: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub oldest_age_seconds: f64,
}

/// A consumer this far behind is down; counting further only costs the scrape.
pub const BACKLOG_COUNT_CAP: i64 = 1_000_000;
/// Consumers reported, most behind first; names are chosen by operators, but bounded anyway.
pub const MAX_CONSUMERS: i64 = 50;

/// Every consumer's backlog, read along `outbox_by_txid`.
pub fn backlogs(conn: &mut PgConnection) -> QueryResult<Vec<Backlog>> {
    diesel::sql_query(
        "SELECT c.consumer,
                (SELECT count(*) FROM (SELECT 1 FROM outbox o
                   WHERE (o.txid, o.id) > (c.txid, c.id)
                     AND (cardinality(c.event_types) = 0 OR o.event_type = ANY(c.event_types))
                   LIMIT $1) AS capped) AS events,
                coalesce((SELECT extract(epoch FROM now() - o.created_at)::float8 FROM outbox o
                   WHERE (o.txid, o.id) > (c.txid, c.id)
                     AND (cardinality(c.event_types) = 0 OR o.event_type = ANY(c.event_types))
                   ORDER BY o.txid, o.id LIMIT 1), 0) AS oldest_age_seconds
         FROM outbox_consumers c
         ORDER BY c.txid, c.id
         LIMIT $2",
    )
    .bind::<BigInt, _>(BACKLOG_COUNT_CAP)
    .bind::<BigInt, _>(MAX_CONSUMERS)
    .load(conn)
}
