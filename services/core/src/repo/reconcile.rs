//! The reconciliation workers' reads and writes (R5, R9, R15–R18), typed and set-based: a batch
//! is claimed with one statement and written with one statement per table (`unnest` over
//! arrays), each a fixed text Diesel keeps prepared. Nothing here decides: the workers pass what
//! `fulfillment-policy` decided, and these functions write it as it is.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Jsonb, Nullable, Text, Timestamptz};

use crate::models::{Address, NewOrderEvent, NewOutboxEvent};
use crate::prepared::prepared;

/// An order and the cancelled tracking link a cancellation step works on, with what the
/// decision needs and what the A+ reset writes.
#[derive(Debug, Clone, QueryableByName)]
pub struct CancelledLink {
    #[diesel(sql_type = BigInt)]
    pub link_id: i64,
    #[diesel(sql_type = BigInt)]
    pub tracking_id: i64,
    #[diesel(sql_type = Bool)]
    pub is_current: bool,
    #[diesel(sql_type = Text)]
    pub order_id: String,
    #[diesel(sql_type = Text)]
    pub merchant_id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Timestamptz)]
    pub initial_released_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    pub is_advanced_logistics: bool,
    #[diesel(sql_type = Text)]
    pub merchant_country: String,
    #[diesel(sql_type = Text)]
    pub carrier: String,
    #[diesel(sql_type = Text)]
    pub tracking_number: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub cancelled_at: DateTime<Utc>,
    /// NOT NULL beside `cancelled_at` (a CHECK says so).
    #[diesel(sql_type = Text)]
    pub cancelled_by: String,
    #[diesel(sql_type = Nullable<Bool>)]
    pub aplus_leaves: Option<bool>,
    #[diesel(sql_type = Text)]
    pub ship_name: String,
    #[diesel(sql_type = Text)]
    pub ship_street_address1: String,
    #[diesel(sql_type = Text)]
    pub ship_street_address2: String,
    #[diesel(sql_type = Text)]
    pub ship_city: String,
    #[diesel(sql_type = Text)]
    pub ship_state: String,
    #[diesel(sql_type = Text)]
    pub ship_zipcode: String,
    #[diesel(sql_type = Text)]
    pub ship_country: String,
    #[diesel(sql_type = Text)]
    pub ship_phone_number: String,
    #[diesel(sql_type = Jsonb)]
    pub customer_shipping_detail: serde_json::Value,
}

impl CancelledLink {
    pub fn shipping_detail(&self) -> Address {
        Address {
            name: self.ship_name.clone(),
            street_address1: self.ship_street_address1.clone(),
            street_address2: self.ship_street_address2.clone(),
            city: self.ship_city.clone(),
            state: self.ship_state.clone(),
            zipcode: self.ship_zipcode.clone(),
            country: self.ship_country.clone(),
            phone_number: self.ship_phone_number.clone(),
        }
    }

    /// The customer's own address (R18); empty fields where the stored JSON has none.
    pub fn customer_shipping_detail(&self) -> Address {
        serde_json::from_value(self.customer_shipping_detail.clone()).unwrap_or_default()
    }
}

/// Which step's queue to claim from. Each queue is a condition on columns the step itself sets,
/// so a committed batch leaves it and a rolled-back one stays in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationQueue {
    /// `cancellation-detector`: current links of cancelled trackings not yet detected.
    Detect,
    /// `re-release-decider`: detected, not yet decided.
    Decide,
    /// `aplus-reset`: re-released A+ orders whose A+ part was not written with the re-release.
    AplusReset,
}

macro_rules! claim_columns {
    () => {
        "SELECT ot.id AS link_id, ot.tracking_id, ot.is_current, o.id AS order_id, o.merchant_id, o.state,
                    o.initial_released_at, o.is_advanced_logistics, m.country AS merchant_country,
                    t.carrier, t.tracking_number, t.confirmed_fulfillment_at, t.cancelled_at,
                    t.cancelled_by, ot.aplus_leaves, o.ship_name, o.ship_street_address1,
                    o.ship_street_address2, o.ship_city, o.ship_state, o.ship_zipcode,
                    o.ship_country, o.ship_phone_number, o.customer_shipping_detail"
    };
}

macro_rules! claim_sql {
    ($queue:literal) => {
        concat!(
            claim_columns!(),
            " FROM order_trackings ot
             JOIN trackings t ON t.id = ot.tracking_id
             JOIN orders o ON o.id = ot.order_id
             JOIN merchants m ON m.id = o.merchant_id
             WHERE t.cancelled_at IS NOT NULL AND ",
            $queue,
            " AND ot.id > $2
             ORDER BY ot.id
             LIMIT $1
             FOR UPDATE OF ot, o SKIP LOCKED"
        )
    };
}

/// The detector walks the `trackings_to_detect` index: up to `$1` cancelled trackings after
/// tracking `$2`, with every current link of theirs not yet detected. `after` and the batch's
/// last key are tracking ids for this queue.
const CLAIM_DETECT: &str = concat!(
    "WITH q AS (SELECT id FROM trackings
                WHERE cancelled_at IS NOT NULL AND cancellation_detected_at IS NULL AND id > $2
                ORDER BY id LIMIT $1
                -- Copies take disjoint trackings, so they share the queue.
                FOR UPDATE SKIP LOCKED)
     ",
    claim_columns!(),
    " FROM q
     JOIN trackings t ON t.id = q.id
     JOIN order_trackings ot ON ot.tracking_id = t.id
     JOIN orders o ON o.id = ot.order_id
     JOIN merchants m ON m.id = o.merchant_id
     WHERE ot.is_current AND ot.cancellation_detected_at IS NULL
     ORDER BY t.id, ot.id
     FOR UPDATE OF ot, o SKIP LOCKED"
);
const CLAIM_DECIDE: &str =
    claim_sql!("ot.cancellation_detected_at IS NOT NULL AND ot.cancellation_decided_at IS NULL");
const CLAIM_APLUS_RESET: &str =
    claim_sql!("ot.cancellation_outcome = 'RE_RELEASE' AND ot.aplus_reset_at IS NULL");

/// Claims up to `limit` links of `queue` after link `after`, locking each link and its order
/// (the ship path locks orders too, so neither sees the other half-done).
pub fn claim_cancelled(
    conn: &mut PgConnection,
    queue: CancellationQueue,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<CancelledLink>> {
    let sql = match queue {
        CancellationQueue::Detect => CLAIM_DETECT,
        CancellationQueue::Decide => CLAIM_DECIDE,
        CancellationQueue::AplusReset => CLAIM_APLUS_RESET,
    };
    prepared(sql)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(after)
        .load(conn)
}

/// Takes cancelled trackings out of the detector's queue once none of their current links is
/// left undetected (a link skipped as locked keeps its tracking queued).
pub fn mark_trackings_detected(
    conn: &mut PgConnection,
    tracking_ids: &[i64],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if tracking_ids.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE trackings t SET cancellation_detected_at = $2
         WHERE t.id = ANY($1::int8[]) AND t.cancellation_detected_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM order_trackings ot
                           WHERE ot.tracking_id = t.id AND ot.is_current
                             AND ot.cancellation_detected_at IS NULL)",
    )
    .bind::<Array<BigInt>, _>(tracking_ids.to_vec())
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// R15 on one link, as the detector decided it.
#[derive(Debug, Clone)]
pub struct Detection {
    pub link_id: i64,
    pub order_id: String,
    /// `Some(cancelled_at)`: the order gets the flag and the date.
    pub flag_cancelled_at: Option<DateTime<Utc>>,
    pub remove_confirmed_date: bool,
    /// `Some(outcome)` when the decision ends here (`NOT_APPLICABLE`).
    pub final_outcome: Option<&'static str>,
}

/// Writes a batch of detections: one statement for the orders, one for the links.
pub fn write_detections(
    conn: &mut PgConnection,
    detections: &[Detection],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    if detections.is_empty() {
        return Ok(());
    }
    let flagged: Vec<&Detection> = detections
        .iter()
        .filter(|d| d.flag_cancelled_at.is_some())
        .collect();
    if !flagged.is_empty() {
        prepared(
            "UPDATE orders o SET tracking_number_cancelled = true,
                 tracking_number_cancelled_date = u.cancelled_at, updated_at = $3
             FROM unnest($1::text[], $2::timestamptz[]) AS u (id, cancelled_at)
             WHERE o.id = u.id",
        )
        .bind::<Array<Text>, _>(
            flagged
                .iter()
                .map(|d| d.order_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Timestamptz>>, _>(
            flagged
                .iter()
                .map(|d| d.flag_cancelled_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Timestamptz, _>(now)
        .execute(conn)?;
    }
    prepared(
        "UPDATE order_trackings ot SET cancellation_detected_at = $4,
             confirmed_removed_at = CASE WHEN u.remove THEN $4 ELSE ot.confirmed_removed_at END,
             cancellation_decided_at = CASE WHEN u.outcome IS NULL THEN NULL ELSE $4 END,
             cancellation_outcome = u.outcome
         FROM unnest($1::int8[], $2::bool[], $3::text[]) AS u (id, remove, outcome)
         WHERE ot.id = u.id",
    )
    .bind::<Array<BigInt>, _>(detections.iter().map(|d| d.link_id).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(
        detections
            .iter()
            .map(|d| d.remove_confirmed_date)
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(
        detections
            .iter()
            .map(|d| d.final_outcome.map(str::to_owned))
            .collect::<Vec<_>>(),
    )
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    Ok(())
}

/// R16–R18 for one re-released order, as the decision says.
#[derive(Debug, Clone)]
pub struct ReRelease {
    pub order_id: String,
    pub re_released_at: DateTime<Utc>,
    pub new_deadline: DateTime<Utc>,
    pub flags: Vec<String>,
    /// R18: `Some(address)` when the order leaves A+ and ships to the customer.
    pub leave_aplus_to: Option<Address>,
}

/// Re-releases a batch of orders in one statement: back to `APPROVED` with the decision's
/// deadline and flags, and, for A+ orders that leave the program, the customer's address in the
/// same row write (R18: no moment in which the order is shippable to the warehouse).
pub fn write_re_releases(
    conn: &mut PgConnection,
    rows: &[ReRelease],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    macro_rules! ship {
        ($field:ident) => {
            rows.iter()
                .map(|r| r.leave_aplus_to.as_ref().map(|a| a.$field.clone()))
                .collect::<Vec<_>>()
        };
    }
    prepared(
        "UPDATE orders o SET state = 'APPROVED', released_at = u.at, fulfillment_deadline = u.deadline,
             is_re_released = true, order_re_released_date = u.at,
             flags = ARRAY(SELECT DISTINCT f FROM unnest(o.flags || string_to_array(u.flags, ',')) f
                           ORDER BY f),
             is_advanced_logistics = o.is_advanced_logistics AND NOT u.leaves,
             ship_name = coalesce(u.name, o.ship_name),
             ship_street_address1 = coalesce(u.street1, o.ship_street_address1),
             ship_street_address2 = coalesce(u.street2, o.ship_street_address2),
             ship_city = coalesce(u.city, o.ship_city),
             ship_state = coalesce(u.state, o.ship_state),
             ship_zipcode = coalesce(u.zipcode, o.ship_zipcode),
             ship_country = coalesce(u.country, o.ship_country),
             ship_phone_number = coalesce(u.phone, o.ship_phone_number),
             updated_at = $14
         FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::bool[],
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::text[], $13::text[])
           AS u (id, at, deadline, flags, leaves, name, street1, street2, city, state, zipcode,
                 country, phone)
         WHERE o.id = u.id",
    )
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.re_released_at).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.new_deadline).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.flags.join(",")).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(
        rows.iter()
            .map(|r| r.leave_aplus_to.is_some())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(ship!(name))
    .bind::<Array<Nullable<Text>>, _>(ship!(street_address1))
    .bind::<Array<Nullable<Text>>, _>(ship!(street_address2))
    .bind::<Array<Nullable<Text>>, _>(ship!(city))
    .bind::<Array<Nullable<Text>>, _>(ship!(state))
    .bind::<Array<Nullable<Text>>, _>(ship!(zipcode))
    .bind::<Array<Nullable<Text>>, _>(ship!(country))
    .bind::<Array<Nullable<Text>>, _>(ship!(phone_number))
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// R18 for A+ orders re-released without their A+ part (see [`CancellationQueue::AplusReset`]):
/// out of the program, the flag, the customer's address.
#[derive(Debug, Clone)]
pub struct AplusReset {
    pub order_id: String,
    pub flag: String,
    pub to: Address,
}

pub fn write_aplus_resets(
    conn: &mut PgConnection,
    rows: &[AplusReset],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    macro_rules! to {
        ($field:ident) => {
            rows.iter().map(|r| r.to.$field.clone()).collect::<Vec<_>>()
        };
    }
    prepared(
        "UPDATE orders o SET is_advanced_logistics = false,
             flags = ARRAY(SELECT DISTINCT f FROM unnest(o.flags || ARRAY[u.flag]) f ORDER BY f),
             ship_name = u.name, ship_street_address1 = u.street1, ship_street_address2 = u.street2,
             ship_city = u.city, ship_state = u.state, ship_zipcode = u.zipcode,
             ship_country = u.country, ship_phone_number = u.phone, updated_at = $11
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
           AS u (id, flag, name, street1, street2, city, state, zipcode, country, phone)
         WHERE o.id = u.id",
    )
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.flag.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(to!(name))
    .bind::<Array<Text>, _>(to!(street_address1))
    .bind::<Array<Text>, _>(to!(street_address2))
    .bind::<Array<Text>, _>(to!(city))
    .bind::<Array<Text>, _>(to!(state))
    .bind::<Array<Text>, _>(to!(zipcode))
    .bind::<Array<Text>, _>(to!(country))
    .bind::<Array<Text>, _>(to!(phone_number))
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Settles the A+ part of re-released links: `(link id, whether the order left A+)`.
pub fn mark_aplus_settled(
    conn: &mut PgConnection,
    links: &[(i64, bool)],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if links.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE order_trackings ot SET aplus_reset_at = $3, aplus_leaves = u.leaves
         FROM unnest($1::int8[], $2::bool[]) AS u (id, leaves)
         WHERE ot.id = u.id",
    )
    .bind::<Array<BigInt>, _>(links.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(links.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

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

/// R16 on one link, as the decider decided it.
#[derive(Debug, Clone)]
pub struct LinkDecision {
    pub link_id: i64,
    pub outcome: &'static str,
    /// A re-release retires the cancelled tracking from the order (a new one is required).
    pub retire: bool,
    /// For a re-release: whether the A+ part took the order out of the program (R18); the A+
    /// part is then settled (`aplus_reset_at`).
    pub aplus_leaves: Option<bool>,
}

pub fn write_link_decisions(
    conn: &mut PgConnection,
    decisions: &[LinkDecision],
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    if decisions.is_empty() {
        return Ok(0);
    }
    prepared(
        "UPDATE order_trackings ot SET cancellation_decided_at = $5, cancellation_outcome = u.outcome,
             is_current = ot.is_current AND NOT u.retire,
             replaced_at = CASE WHEN u.retire THEN $5 ELSE ot.replaced_at END,
             aplus_leaves = u.leaves,
             aplus_reset_at = CASE WHEN u.leaves IS NULL THEN ot.aplus_reset_at ELSE $5 END
         FROM unnest($1::int8[], $2::text[], $3::bool[], $4::bool[]) AS u (id, outcome, retire, leaves)
         WHERE ot.id = u.id",
    )
    .bind::<Array<BigInt>, _>(decisions.iter().map(|d| d.link_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(
        decisions
            .iter()
            .map(|d| d.outcome.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Bool>, _>(decisions.iter().map(|d| d.retire).collect::<Vec<_>>())
    .bind::<Array<Nullable<Bool>>, _>(
        decisions.iter().map(|d| d.aplus_leaves).collect::<Vec<_>>(),
    )
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
