//! `merchant-notifier`'s reads and writes (R9): who is due today, and that they were told.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Integer, Text, Timestamptz};

use crate::prepared::prepared;

/// A merchant not yet notified today, with its count of orders to fulfil (R9).
#[derive(Debug, Clone, QueryableByName)]
pub struct MerchantDue {
    #[diesel(sql_type = Text)]
    pub merchant_id: String,
    #[diesel(sql_type = BigInt)]
    pub to_fulfill: i64,
}

pub fn claim_merchants_to_notify(
    conn: &mut PgConnection,
    day: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<MerchantDue>> {
    prepared(
        "SELECT m.id AS merchant_id,
                (SELECT count(*) FROM orders o WHERE o.merchant_id = m.id AND o.state = 'APPROVED')
                  AS to_fulfill
         FROM merchants m
         WHERE NOT EXISTS (SELECT 1 FROM merchant_notifications n
                           WHERE n.merchant_id = m.id AND n.day = $1)
         ORDER BY m.id
         LIMIT $2
         FOR UPDATE OF m SKIP LOCKED",
    )
    .bind::<Date, _>(day)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// Records the day's notification of each merchant; returns the merchants newly recorded (a
/// (merchant, day) recorded before is skipped, so nobody is told twice).
pub fn record_notifications(
    conn: &mut PgConnection,
    day: NaiveDate,
    merchants: &[MerchantDue],
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Recorded {
        #[diesel(sql_type = Text)]
        merchant_id: String,
    }
    if merchants.is_empty() {
        return Ok(Vec::new());
    }
    let recorded: Vec<Recorded> = prepared(
        "INSERT INTO merchant_notifications (merchant_id, day, orders_to_fulfill, created_at)
         SELECT m, $3, c, $4 FROM unnest($1::text[], $2::int4[]) WITH ORDINALITY AS u (m, c, n)
         ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING merchant_id",
    )
    .bind::<Array<Text>, _>(
        merchants
            .iter()
            .map(|m| m.merchant_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Integer>, _>(
        merchants
            .iter()
            .map(|m| i32::try_from(m.to_fulfill).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind::<Date, _>(day)
    .bind::<Timestamptz, _>(now)
    .load(conn)?;
    Ok(recorded.into_iter().map(|r| r.merchant_id).collect())
}
