use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};

use crate::error::ServiceResult;
use crate::models::{NewOrder, NewTracking, Order, OrderTracking, Tracking};
use crate::repo::meaning::{Meaning, Means};
use crate::schema::{order_trackings, orders, trackings};

/// Inserts a new order; `None` when an order with that id already exists. An unknown merchant
/// is NOT_FOUND.
pub fn insert(conn: &mut PgConnection, order: &NewOrder) -> ServiceResult<Option<Order>> {
    diesel::insert_into(orders::table)
        .values(order)
        .on_conflict_do_nothing()
        .returning(Order::as_returning())
        .get_result(conn)
        .optional()
        .means(|| {
            [Meaning::missing(
                "orders_merchant_id_fkey",
                "merchant",
                &order.merchant_id,
            )]
        })
}

/// Any merchant's order by id (internal pipelines and idempotent release only).
pub fn find_any(conn: &mut PgConnection, id: &str) -> QueryResult<Option<Order>> {
    orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, merchant_id: &str, id: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::merchant_id.eq(merchant_id))
        .filter(orders::id.eq(id))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// A merchant's orders by id, locked for update in id order (a fixed order avoids deadlocks
/// between callers locking overlapping sets).
///
/// The merchant is checked here, not in SQL: with `merchant_id = $1` in the query, a merchant
/// newer than the table's statistics looks tiny to the planner, which then walks that
/// merchant's whole index range instead of the primary key (measured: 35 ms instead of 0.1 ms
/// for a merchant with 40,000 orders). Another merchant's order is at worst locked until the
/// transaction ends, never returned.
pub fn lock_many(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
) -> QueryResult<Vec<Order>> {
    merchants_orders(conn, merchant_id, ids, true)
}

/// A merchant's orders by id (the merchant checked as in [`lock_many`]).
pub fn find_many(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
) -> QueryResult<Vec<Order>> {
    merchants_orders(conn, merchant_id, ids, false)
}

/// The one query of [`lock_many`] and [`find_many`]; only a lock needs the id order.
fn merchants_orders(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
    lock: bool,
) -> QueryResult<Vec<Order>> {
    let query = orders::table
        .filter(orders::id.eq_any(ids))
        .select(Order::as_select());
    let mut found: Vec<Order> = if lock {
        query.order(orders::id.asc()).for_update().load(conn)?
    } else {
        query.load(conn)?
    };
    found.retain(|o| o.merchant_id == merchant_id);
    Ok(found)
}

/// A page of a merchant's APPROVED orders, oldest deadline first, after the keyset `after`.
pub fn list_to_fulfill(
    conn: &mut PgConnection,
    merchant_id: &str,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> QueryResult<Vec<Order>> {
    let mut query = orders::table
        .filter(orders::merchant_id.eq(merchant_id))
        .filter(orders::state.eq("APPROVED"))
        .into_boxed();
    if let Some((deadline, id)) = after {
        // The `>=` bounds the index range scan to the keyset's start; the OR alone is only a
        // filter, and a page deep in a merchant's orders would walk every earlier one.
        query = query
            .filter(orders::fulfillment_deadline.ge(deadline))
            .filter(
                orders::fulfillment_deadline
                    .gt(deadline)
                    .or(orders::fulfillment_deadline
                        .eq(deadline)
                        .and(orders::id.gt(id))),
            );
    }
    query
        .order((orders::fulfillment_deadline.asc(), orders::id.asc()))
        .limit(limit)
        .select(Order::as_select())
        .load(conn)
}

pub fn set_state(
    conn: &mut PgConnection,
    id: &str,
    state: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set((orders::state.eq(state), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Every tracking link of these orders (current and earlier), joined with its tracking, oldest first.
pub fn links_with_trackings(
    conn: &mut PgConnection,
    order_ids: &[String],
) -> QueryResult<Vec<(OrderTracking, Tracking)>> {
    order_trackings::table
        .inner_join(trackings::table)
        .filter(order_trackings::order_id.eq_any(order_ids))
        .order(order_trackings::id.asc())
        .select((OrderTracking::as_select(), Tracking::as_select()))
        .load(conn)
}

/// One order of a [`Shipment`]: what its link, audit row and outbox row carry.
#[derive(Debug, Clone)]
pub struct ShippedOrder {
    pub order_id: String,
    pub shipped_late: bool,
    pub state_before: String,
    /// The audit row's details.
    pub details: serde_json::Value,
    /// The `customer.notified` outbox row's payload (R9).
    pub payload: serde_json::Value,
}

/// Orders put on one tracking in one call (R3, R4, R10), written by [`record_shipment`].
#[derive(Debug, Clone)]
pub struct Shipment<'a> {
    pub merchant_id: &'a str,
    pub tracking_id: i64,
    pub origin_country: &'a str,
    pub channel: &'a str,
    pub actor: &'a str,
    /// The audit kind (`shipped`, `tracking_modified`).
    pub kind: &'a str,
    /// `Some(state)`: the orders move to it (and the audit row says so); `None`: they keep
    /// theirs.
    pub new_state: Option<&'a str>,
    pub policy_version: i32,
    pub now: DateTime<Utc>,
    pub orders: &'a [ShippedOrder],
}

/// A link [`record_shipment`] inserted, and whether its order had links before it (then the
/// caller reads the order's history; without, the new link is all there is).
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = order_trackings, check_for_backend(diesel::pg::Pg))]
pub struct ShippedLink {
    /// The inserted row: `RETURNING *` of `order_trackings`, the columns of [`OrderTracking`].
    #[diesel(embed)]
    link: OrderTracking,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub has_history: bool,
}

impl ShippedLink {
    pub fn link(&self) -> OrderTracking {
        self.link.clone()
    }
}

/// Writes a whole shipment in one statement, one round trip whatever the number of orders:
/// each order's link, its new state, its audit row and, keyed by the audit row's id, its
/// `customer.notified` outbox row (R9), in the caller's transaction. Returns the new links in
/// the order of `shipment.orders`.
///
/// Fixed text, kept prepared (see [`crate::prepared`]). The audit rows are inserted in the
/// order given, so their ids ascend as the one-statement-per-row version's did.
pub fn record_shipment(
    conn: &mut PgConnection,
    shipment: &Shipment<'_>,
) -> QueryResult<Vec<ShippedLink>> {
    use diesel::sql_types::Jsonb;
    macro_rules! column {
        ($field:ident) => {
            shipment
                .orders
                .iter()
                .map(|o| o.$field.clone())
                .collect::<Vec<_>>()
        };
    }
    let mut links: Vec<ShippedLink> =
        crate::prepared::prepared(include_str!("sql/record_shipment.sql"))
            .bind::<Array<Text>, _>(column!(order_id))
            .bind::<Array<Bool>, _>(column!(shipped_late))
            .bind::<Array<Text>, _>(column!(state_before))
            .bind::<Array<Jsonb>, _>(column!(details))
            .bind::<Array<Jsonb>, _>(column!(payload))
            .bind::<BigInt, _>(shipment.tracking_id)
            .bind::<Text, _>(shipment.origin_country.to_owned())
            .bind::<Text, _>(shipment.channel.to_owned())
            .bind::<Timestamptz, _>(shipment.now)
            .bind::<Nullable<Text>, _>(shipment.new_state.map(str::to_owned))
            .bind::<Text, _>(shipment.merchant_id.to_owned())
            .bind::<Text, _>(shipment.actor.to_owned())
            .bind::<Text, _>(shipment.kind.to_owned())
            .bind::<Integer, _>(shipment.policy_version)
            .load(conn)?;
    links.sort_by_key(|l| {
        shipment
            .orders
            .iter()
            .position(|o| o.order_id == l.link.order_id)
    });
    Ok(links)
}

// The tracking columns of [`lock_for_shipping`]'s answer: no table, a name for their SQL types
// (all nullable: the tracking is LEFT JOINed), so that [`LockedRow`] maps them by name without
// a `sql_type` beside every field.
diesel::table! {
    locked_tracking (t_id) {
        t_id -> Nullable<BigInt>,
        t_merchant_id -> Nullable<Text>,
        t_carrier -> Nullable<Text>,
        t_tracking_number -> Nullable<Text>,
        t_status -> Nullable<Text>,
        t_carrier_status_code -> Nullable<Text>,
        t_carrier_status_text -> Nullable<Text>,
        t_confirmed_fulfillment_at -> Nullable<Timestamptz>,
        t_delivered_at -> Nullable<Timestamptz>,
        t_cancelled_at -> Nullable<Timestamptz>,
        t_cancelled_by -> Nullable<Text>,
        t_last_event_at -> Nullable<Timestamptz>,
        t_next_poll_at -> Nullable<Timestamptz>,
        t_poll_failures -> Nullable<Integer>,
        t_created_at -> Nullable<Timestamptz>,
        t_updated_at -> Nullable<Timestamptz>,
        t_created -> Nullable<Bool>,
    }
}

/// A row of [`lock_for_shipping`]: a locked order and the tracking (its columns prefixed `t_`;
/// all `NULL` when the tracking could not be had in the same statement).
#[derive(QueryableByName)]
#[diesel(table_name = locked_tracking)]
struct LockedRow {
    #[diesel(embed)]
    order: Order,
    t_id: Option<i64>,
    t_merchant_id: Option<String>,
    t_carrier: Option<String>,
    t_tracking_number: Option<String>,
    t_status: Option<String>,
    t_carrier_status_code: Option<String>,
    t_carrier_status_text: Option<String>,
    t_confirmed_fulfillment_at: Option<DateTime<Utc>>,
    t_delivered_at: Option<DateTime<Utc>>,
    t_cancelled_at: Option<DateTime<Utc>>,
    t_cancelled_by: Option<String>,
    t_last_event_at: Option<DateTime<Utc>>,
    t_next_poll_at: Option<DateTime<Utc>>,
    t_poll_failures: Option<i32>,
    t_created_at: Option<DateTime<Utc>>,
    t_updated_at: Option<DateTime<Utc>>,
    t_created: Option<bool>,
}

impl LockedRow {
    fn tracking(&self) -> Option<TakenTracking> {
        Some((
            Tracking {
                id: self.t_id?,
                merchant_id: self.t_merchant_id.clone()?,
                carrier: self.t_carrier.clone()?,
                tracking_number: self.t_tracking_number.clone()?,
                status: self.t_status.clone()?,
                carrier_status_code: self.t_carrier_status_code.clone(),
                carrier_status_text: self.t_carrier_status_text.clone(),
                confirmed_fulfillment_at: self.t_confirmed_fulfillment_at,
                delivered_at: self.t_delivered_at,
                cancelled_at: self.t_cancelled_at,
                cancelled_by: self.t_cancelled_by.clone(),
                last_event_at: self.t_last_event_at,
                next_poll_at: self.t_next_poll_at,
                poll_failures: self.t_poll_failures?,
                created_at: self.t_created_at?,
                updated_at: self.t_updated_at?,
            },
            self.t_created?,
        ))
    }
}

/// A tracking [`lock_for_shipping`] had, and whether it created it.
pub type TakenTracking = (Tracking, bool);

/// What FulfillOrder's decision needs, in one statement: the merchant's orders by id, locked
/// for update in id order (the merchant checked in Rust, as in [`lock_many`]), then the
/// tracking, created if new and locked if not (what
/// [`crate::repo::trackings::get_or_create_locked`] does in two), with whether it was created.
///
/// The tracking is taken only once every order is locked (its insert reads them all first), so
/// callers lock in the same order as before. The tracking is `None` when none of the orders is
/// the merchant's (the caller answers NOT_FOUND; an unknown merchant's tracking would fail its
/// foreign key), and when another transaction created the same tracking after this statement
/// began (neither the insert nor this statement's snapshot sees it): the caller then takes it
/// with `get_or_create_locked`, in a statement of its own.
pub fn lock_for_shipping(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
    tracking: &NewTracking<'_>,
) -> QueryResult<(Vec<Order>, Option<TakenTracking>)> {
    let rows: Vec<LockedRow> = crate::prepared::prepared(include_str!("sql/lock_for_shipping.sql"))
        .bind::<Array<Text>, _>(ids.to_vec())
        .bind::<Text, _>(tracking.merchant_id.to_owned())
        .bind::<Text, _>(tracking.carrier.to_owned())
        .bind::<Text, _>(tracking.tracking_number.to_owned())
        .bind::<Nullable<Timestamptz>, _>(tracking.next_poll_at)
        .bind::<Timestamptz, _>(tracking.created_at)
        .bind::<Timestamptz, _>(tracking.updated_at)
        .load(conn)?;
    let taken = rows.first().and_then(LockedRow::tracking);
    let orders = rows
        .into_iter()
        .map(|r| r.order)
        .filter(|o| o.merchant_id == merchant_id)
        .collect();
    Ok((orders, taken))
}
