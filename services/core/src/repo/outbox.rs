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
