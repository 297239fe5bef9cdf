//! `deadline-enforcer`'s reads and writes (R5): late orders and what their refund records.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};

use crate::prepared::prepared;

/// An `APPROVED` order whose deadline has passed, claimed for R5.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueOrder {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub merchant_id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub product_id: String,
    #[diesel(sql_type = Timestamptz)]
    pub fulfillment_deadline: DateTime<Utc>,
}

/// Claims `APPROVED` orders with a deadline before `cutoff` (the policy's R5 bound), oldest
/// deadline first, along the `orders_approved_by_deadline` index.
pub fn claim_past_deadline(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<DueOrder>> {
    prepared(
        "SELECT id, merchant_id, state, product_id, fulfillment_deadline FROM orders
         WHERE state = 'APPROVED' AND fulfillment_deadline < $1
         ORDER BY fulfillment_deadline, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind::<Timestamptz, _>(cutoff)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// R5: a merchant violation and, when the order names a product, a disable candidate, per
/// refunded late order (one statement each; a repeat is ignored).
pub fn record_late_refunds(
    conn: &mut PgConnection,
    orders: &[&DueOrder],
    reason: &'static str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let merchants: Vec<String> = orders.iter().map(|o| o.merchant_id.clone()).collect();
    prepared(
        "INSERT INTO merchant_violations (merchant_id, order_id, kind, occurred_at)
         SELECT m, o, $3, $4 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u (m, o, n)
         ORDER BY n
         ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(merchants.clone())
    .bind::<Array<Text>, _>(ids.clone())
    .bind::<Text, _>(reason)
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    prepared(
        "INSERT INTO product_disable_candidates (merchant_id, product_id, order_id, reason, created_at)
         SELECT m, p, o, $4, $5 FROM unnest($1::text[], $2::text[], $3::text[])
           WITH ORDINALITY AS u (m, p, o, n)
         WHERE p <> ''
         ORDER BY n
         ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(merchants)
    .bind::<Array<Text>, _>(
        orders
            .iter()
            .map(|o| o.product_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Text>, _>(ids)
    .bind::<Text, _>(reason)
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    Ok(())
}
