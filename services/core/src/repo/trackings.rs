use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::ServiceResult;
use crate::models::{NewOrderTracking, NewTracking, Order, OrderTracking, Tracking};
use crate::repo::meaning::{Meaning, Means};
use crate::schema::{order_trackings, orders, trackings};

/// The tracking (carrier, number), created if new, locked for the rest of the transaction so
/// that concurrent callers attaching orders to it are serialised (R10 is checked against every
/// order on it). Returns whether it was created.
pub fn get_or_create_locked(
    conn: &mut PgConnection,
    new: &NewTracking<'_>,
) -> ServiceResult<(Tracking, bool)> {
    let created = diesel::insert_into(trackings::table)
        .values(new)
        .on_conflict((trackings::carrier, trackings::tracking_number))
        .do_nothing()
        .returning(Tracking::as_returning())
        .get_result(conn)
        .optional()
        .means(|| {
            [Meaning::missing(
                "trackings_merchant_id_fkey",
                "merchant",
                new.merchant_id,
            )]
        })?;
    if let Some(tracking) = created {
        return Ok((tracking, true));
    }
    let existing = trackings::table
        .filter(trackings::carrier.eq(new.carrier))
        .filter(trackings::tracking_number.eq(new.tracking_number))
        .for_update()
        .select(Tracking::as_select())
        .first(conn)
        .means(|| [Meaning::absent("tracking", new.tracking_number)])?;
    Ok((existing, false))
}

pub fn find(
    conn: &mut PgConnection,
    carrier: &str,
    tracking_number: &str,
) -> QueryResult<Option<Tracking>> {
    trackings::table
        .filter(trackings::carrier.eq(carrier))
        .filter(trackings::tracking_number.eq(tracking_number))
        .select(Tracking::as_select())
        .first(conn)
        .optional()
}

/// Orders currently shipped with this tracking.
pub fn current_orders(conn: &mut PgConnection, tracking_id: i64) -> QueryResult<Vec<Order>> {
    orders::table
        .inner_join(order_trackings::table)
        .filter(order_trackings::tracking_id.eq(tracking_id))
        .filter(order_trackings::is_current.eq(true))
        .order(orders::id.asc())
        .select(Order::as_select())
        .load(conn)
}

/// Links an order to a tracking as its current one. A second current link is ALREADY_EXISTS
/// (retire the current one first); an unknown order or tracking is NOT_FOUND.
pub fn link(conn: &mut PgConnection, link: &NewOrderTracking<'_>) -> ServiceResult<OrderTracking> {
    let tracking_id = link.tracking_id.to_string();
    diesel::insert_into(order_trackings::table)
        .values(link)
        .returning(OrderTracking::as_returning())
        .get_result(conn)
        .means(|| {
            [
                Meaning::duplicate_on(
                    "order_trackings_one_current",
                    "ORDER_ALREADY_TRACKED",
                    format!("a current tracking of order {}", link.order_id),
                ),
                Meaning::missing("order_trackings_order_id_fkey", "order", link.order_id),
                Meaning::missing("order_trackings_tracking_id_fkey", "tracking", &tracking_id),
            ]
        })
}

/// Moves an order's current link into its history; returns it.
pub fn retire_current(
    conn: &mut PgConnection,
    order_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<OrderTracking>> {
    diesel::update(
        order_trackings::table
            .filter(order_trackings::order_id.eq(order_id))
            .filter(order_trackings::is_current.eq(true)),
    )
    .set((
        order_trackings::is_current.eq(false),
        order_trackings::replaced_at.eq(now),
    ))
    .returning(OrderTracking::as_returning())
    .get_result(conn)
    .optional()
}

/// Whether this order once shipped with this tracking and the tracking was cancelled since
/// (R16: the cancelled number is refused for that order).
pub fn was_cancelled_for_order(
    conn: &mut PgConnection,
    order_id: &str,
    tracking_id: i64,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        order_trackings::table
            .inner_join(trackings::table)
            .filter(order_trackings::order_id.eq(order_id))
            .filter(order_trackings::tracking_id.eq(tracking_id))
            .filter(trackings::cancelled_at.is_not_null()),
    ))
    .get_result(conn)
}

/// Locks the trackings with these (carrier, number) keys, in id order so that concurrent
/// batches touching the same trackings cannot deadlock.
pub fn lock_by_keys(
    conn: &mut PgConnection,
    carriers: &[String],
    numbers: &[String],
) -> QueryResult<Vec<Tracking>> {
    use diesel::sql_types::{Array, Text};
    diesel::sql_query(
        "SELECT t.* FROM trackings t
         JOIN unnest($1::text[], $2::text[]) AS k (carrier, tracking_number)
           ON t.carrier = k.carrier AND t.tracking_number = k.tracking_number
         ORDER BY t.id FOR UPDATE OF t",
    )
    .bind::<Array<Text>, _>(carriers)
    .bind::<Array<Text>, _>(numbers)
    .load(conn)
}

pub fn lock_by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Tracking>> {
    trackings::table
        .find(id)
        .for_update()
        .select(Tracking::as_select())
        .first(conn)
        .optional()
}

/// A tracking's facts after its events were applied (R21).
#[derive(Debug, Clone)]
pub struct FactsUpdate {
    pub id: i64,
    pub status: String,
    pub carrier_status_code: Option<String>,
    pub carrier_status_text: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub poll_failures: i32,
}

/// Writes many trackings' facts in one statement.
pub fn update_facts(
    conn: &mut PgConnection,
    updates: &[FactsUpdate],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
    if updates.is_empty() {
        return Ok(0);
    }
    macro_rules! column {
        ($field:ident) => {
            updates.iter().map(|u| u.$field.clone()).collect::<Vec<_>>()
        };
    }
    diesel::sql_query(
        "UPDATE trackings t SET status = u.status, carrier_status_code = u.code,
             carrier_status_text = u.text, last_event_at = u.last_event_at,
             confirmed_fulfillment_at = u.confirmed, delivered_at = u.delivered,
             cancelled_at = u.cancelled, cancelled_by = u.cancelled_by,
             next_poll_at = u.next_poll_at, poll_failures = u.poll_failures, updated_at = $12
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                     $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::text[],
                     $10::timestamptz[], $11::int4[])
           AS u (id, status, code, text, last_event_at, confirmed, delivered, cancelled,
                 cancelled_by, next_poll_at, poll_failures)
         WHERE t.id = u.id",
    )
    .bind::<Array<BigInt>, _>(column!(id))
    .bind::<Array<Text>, _>(column!(status))
    .bind::<Array<Nullable<Text>>, _>(column!(carrier_status_code))
    .bind::<Array<Nullable<Text>>, _>(column!(carrier_status_text))
    .bind::<Array<Nullable<Timestamptz>>, _>(column!(last_event_at))
    .bind::<Array<Nullable<Timestamptz>>, _>(column!(confirmed_fulfillment_at))
    .bind::<Array<Nullable<Timestamptz>>, _>(column!(delivered_at))
    .bind::<Array<Nullable<Timestamptz>>, _>(column!(cancelled_at))
    .bind::<Array<Nullable<Text>>, _>(column!(cancelled_by))
    .bind::<Array<Nullable<Timestamptz>>, _>(column!(next_poll_at))
    .bind::<Array<Integer>, _>(column!(poll_failures))
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// R22: claims up to `limit` trackings due for a poll, by leasing them: their `next_poll_at`
/// moves to `lease_until` in the same statement, so another poller skips them (SKIP LOCKED
/// while this runs, not due afterwards), and a poller that dies leaves them due again when the
/// lease ends. Only carriers in `carriers` are claimed (those the poller has a client for).
pub fn claim_due(
    conn: &mut PgConnection,
    carriers: &[String],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Tracking>> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
    diesel::sql_query(
        "UPDATE trackings t SET next_poll_at = $3
         FROM (SELECT id FROM trackings
               WHERE next_poll_at <= $2 AND carrier = ANY($1)
               ORDER BY next_poll_at, id
               LIMIT $4
               FOR UPDATE SKIP LOCKED) AS due
         WHERE t.id = due.id
         RETURNING t.*",
    )
    .bind::<Array<Text>, _>(carriers)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// Stops or resumes polling of one tracking.
pub fn set_next_poll(
    conn: &mut PgConnection,
    tracking_id: i64,
    next_poll_at: Option<DateTime<Utc>>,
    poll_failures: i32,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(trackings::table.find(tracking_id))
        .set((
            trackings::next_poll_at.eq(next_poll_at),
            trackings::poll_failures.eq(poll_failures),
            trackings::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn find_by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Tracking>> {
    trackings::table
        .find(id)
        .select(Tracking::as_select())
        .first(conn)
        .optional()
}

/// The tracking an order ships with now.
pub fn current_for_order(conn: &mut PgConnection, order_id: &str) -> QueryResult<Option<Tracking>> {
    trackings::table
        .inner_join(order_trackings::table)
        .filter(order_trackings::order_id.eq(order_id))
        .filter(order_trackings::is_current.eq(true))
        .select(Tracking::as_select())
        .first(conn)
        .optional()
}

/// Resumes polling of a merchant's open trackings of one carrier (R13: after the merchant
/// connects the integration).
pub fn rearm_polling(
    conn: &mut PgConnection,
    merchant_id: &str,
    carrier: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        trackings::table
            .filter(trackings::merchant_id.eq(merchant_id))
            .filter(trackings::carrier.eq(carrier))
            .filter(trackings::next_poll_at.is_null())
            .filter(trackings::status.ne_all(["DELIVERED", "EXPIRED", "CANCELLED"])),
    )
    .set((
        trackings::next_poll_at.eq(now),
        trackings::updated_at.eq(now),
    ))
    .execute(conn)
}

/// R12: gives a tracking stored under a carrier's number its NF-e number.
pub fn renumber(
    conn: &mut PgConnection,
    tracking_id: i64,
    tracking_number: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(trackings::table.find(tracking_id))
        .set((
            trackings::tracking_number.eq(tracking_number),
            trackings::updated_at.eq(now),
        ))
        .execute(conn)
}
