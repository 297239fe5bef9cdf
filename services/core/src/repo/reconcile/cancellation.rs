//! The cancellation steps' queues (R15, R16): the claim each of `cancellation-detector`,
//! `re-release-decider` and `aplus-reset` makes, and the detector's writes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};

use crate::models::{Address, ship_address};
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
        ship_address!(self)
    }

    /// The customer's own address (R18); empty fields where the stored JSON has none.
    pub fn customer_shipping_detail(&self) -> Address {
        Address::from_stored_json(&self.customer_shipping_detail)
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
