//! The append-only audit trail and the outbox (R9), written in the caller's transaction.

use diesel::prelude::*;

use crate::models::{NewOrderEvent, NewOutboxEvent, OrderEvent, OutboxEvent};
use crate::schema::{order_events, outbox};

/// Records a state change; returns the event id (outbox ids derive from it).
pub fn record_event(conn: &mut PgConnection, event: &NewOrderEvent<'_>) -> QueryResult<i64> {
    diesel::insert_into(order_events::table)
        .values(event)
        .returning(order_events::id)
        .get_result(conn)
}

/// Queues an event for another system. A repeated `event_id` is ignored, so a cause that is
/// processed twice still asks once.
pub fn enqueue(conn: &mut PgConnection, event: &NewOutboxEvent<'_>) -> QueryResult<usize> {
    diesel::insert_into(outbox::table)
        .values(event)
        .on_conflict(outbox::event_id)
        .do_nothing()
        .execute(conn)
}

pub fn events_for_order(conn: &mut PgConnection, order_id: &str) -> QueryResult<Vec<OrderEvent>> {
    order_events::table
        .filter(order_events::order_id.eq(order_id))
        .order(order_events::id.asc())
        .select(OrderEvent::as_select())
        .load(conn)
}

pub fn outbox_for_order(conn: &mut PgConnection, order_id: &str) -> QueryResult<Vec<OutboxEvent>> {
    outbox::table
        .filter(outbox::order_id.eq(order_id))
        .order(outbox::id.asc())
        .select(OutboxEvent::as_select())
        .load(conn)
}
