use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::models::{NewOrderTracking, NewTracking, Order, OrderTracking, Tracking};
use crate::schema::{order_trackings, orders, trackings};

/// The tracking (carrier, number), created if new, locked for the rest of the transaction so
/// that concurrent callers attaching orders to it are serialised (R10 is checked against every
/// order on it). Returns whether it was created.
pub fn get_or_create_locked(
    conn: &mut PgConnection,
    new: &NewTracking<'_>,
) -> QueryResult<(Tracking, bool)> {
    let created = diesel::insert_into(trackings::table)
        .values(new)
        .on_conflict((trackings::carrier, trackings::tracking_number))
        .do_nothing()
        .returning(Tracking::as_returning())
        .get_result(conn)
        .optional()?;
    if let Some(tracking) = created {
        return Ok((tracking, true));
    }
    let existing = trackings::table
        .filter(trackings::carrier.eq(new.carrier))
        .filter(trackings::tracking_number.eq(new.tracking_number))
        .for_update()
        .select(Tracking::as_select())
        .first(conn)?;
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

pub fn link(conn: &mut PgConnection, link: &NewOrderTracking<'_>) -> QueryResult<OrderTracking> {
    diesel::insert_into(order_trackings::table)
        .values(link)
        .returning(OrderTracking::as_returning())
        .get_result(conn)
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
