//! Carrier shipments (R20): the attempt recorded before the carrier is called, the carrier's
//! answer recorded as soon as it comes, and the state the order ships with. Transitions are
//! guarded by the state they leave, so a late or repeated writer changes nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::ServiceResult;
use crate::repo::meaning::{Meaning, Means};
use crate::schema::shipments;

pub const REQUESTED: &str = "REQUESTED";
pub const CREATED: &str = "CREATED";
pub const FAILED: &str = "FAILED";
pub const SUPERSEDED: &str = "SUPERSEDED";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipments, check_for_backend(diesel::pg::Pg))]
pub struct ShipmentRow {
    pub id: String,
    pub merchant_id: String,
    pub order_id: String,
    pub account_id: String,
    pub carrier: String,
    pub state: String,
    pub reference: String,
    pub recreate: bool,
    pub request_key: Option<String>,
    pub attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub carrier_shipment_id: Option<String>,
    pub tracking_number: Option<String>,
    pub label_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ShipmentRow {
    /// The carrier answered with a tracking number: nothing is left to ask it.
    pub fn carrier_answered(&self) -> bool {
        self.carrier_shipment_id.is_some() && self.tracking_number.is_some()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = shipments)]
pub struct NewShipment<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub order_id: &'a str,
    pub account_id: &'a str,
    pub carrier: &'a str,
    pub state: &'a str,
    pub reference: &'a str,
    pub recreate: bool,
    pub request_key: Option<&'a str>,
    pub attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Records a shipment request. A second open shipment of the order is ALREADY_EXISTS; an unknown
/// order or account is NOT_FOUND.
pub fn insert(conn: &mut PgConnection, shipment: &NewShipment<'_>) -> ServiceResult<ShipmentRow> {
    diesel::insert_into(shipments::table)
        .values(shipment)
        .returning(ShipmentRow::as_returning())
        .get_result(conn)
        .means(|| {
            [
                Meaning::duplicate(
                    "SHIPMENT_IN_PROGRESS",
                    format!("an open shipment of order {}", shipment.order_id),
                ),
                Meaning::missing("shipments_order_id_fkey", "order", shipment.order_id),
                Meaning::missing(
                    "shipments_account_id_fkey",
                    "carrier account",
                    shipment.account_id,
                ),
                Meaning::missing(
                    "shipments_merchant_id_fkey",
                    "merchant",
                    shipment.merchant_id,
                ),
            ]
        })
}

/// A shipment by id, locked for update.
pub fn lock(conn: &mut PgConnection, id: &str) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .find(id)
        .for_update()
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

/// The order's shipment in the given state (`REQUESTED` or `CREATED`: at most one each),
/// locked for update.
pub fn live_for_order_locked(
    conn: &mut PgConnection,
    order_id: &str,
    state: &str,
) -> QueryResult<Option<ShipmentRow>> {
    shipments::table
        .filter(shipments::order_id.eq(order_id))
        .filter(shipments::state.eq(state))
        .for_update()
        .select(ShipmentRow::as_select())
        .first(conn)
        .optional()
}

/// The shipments the given orders of a merchant currently ship with (`CREATED`).
pub fn created_for_orders(
    conn: &mut PgConnection,
    merchant_id: &str,
    order_ids: &[String],
) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::merchant_id.eq(merchant_id))
        .filter(shipments::order_id.eq_any(order_ids))
        .filter(shipments::state.eq(CREATED))
        .select(ShipmentRow::as_select())
        .load(conn)
}

/// Every shipment of an order, oldest first.
pub fn for_order(conn: &mut PgConnection, order_id: &str) -> QueryResult<Vec<ShipmentRow>> {
    shipments::table
        .filter(shipments::order_id.eq(order_id))
        .order((shipments::created_at.asc(), shipments::id.asc()))
        .select(ShipmentRow::as_select())
        .load(conn)
}

/// Takes a `REQUESTED` row the carrier has not answered for another send, with `account_id`
/// (which may differ from the last attempt's), until `lease_until`.
pub fn claim_for_send(
    conn: &mut PgConnection,
    id: &str,
    account_id: &str,
    carrier: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<ShipmentRow> {
    diesel::update(requested(id))
        .set((
            shipments::account_id.eq(account_id),
            shipments::carrier.eq(carrier),
            shipments::attempts.eq(shipments::attempts + 1),
            shipments::lease_until.eq(Some(lease_until)),
            shipments::updated_at.eq(now),
        ))
        .returning(ShipmentRow::as_returning())
        .get_result(conn)
}

/// Takes a `REQUESTED` row for a call that asks the carrier about it (no new send).
pub fn lease(
    conn: &mut PgConnection,
    id: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(requested(id))
        .set((
            shipments::lease_until.eq(Some(lease_until)),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)
}

/// What the carrier answered: its ids, and the tracking number once there is one. The row
/// stays `REQUESTED` until the order is marked shipped with it.
pub fn record_carrier_ids(
    conn: &mut PgConnection,
    id: &str,
    carrier_shipment_id: &str,
    tracking_number: Option<&str>,
    label_reference: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(requested(id))
        .set((
            shipments::carrier_shipment_id.eq(Some(carrier_shipment_id)),
            shipments::tracking_number.eq(tracking_number),
            shipments::label_reference.eq(label_reference),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The ways a `REQUESTED` row's lease ends with a reason, one function each so that a caller
/// says which it means: the same signature, only the state the row is left in differs.
macro_rules! lease_endings {
    ($($(#[$doc:meta])* $name:ident => $state:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(
            conn: &mut PgConnection,
            id: &str,
            reason: &str,
            message: &str,
            now: DateTime<Utc>,
        ) -> QueryResult<usize> {
            leave_requested(conn, id, $state, (reason, message), now)
        }
    )*};
}

lease_endings! {
    /// Lets go of a `REQUESTED` row that could not be finished now, noting why; the next call
    /// takes it up again.
    release => REQUESTED;
    /// `REQUESTED → FAILED`, with the reason.
    fail => FAILED;
}

/// A `REQUESTED` row's lease given up with why, in `state` (still `REQUESTED` to be taken up
/// again, or `FAILED`).
fn leave_requested(
    conn: &mut PgConnection,
    id: &str,
    state: &str,
    (reason, message): (&str, &str),
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(requested(id))
        .set((
            shipments::state.eq(state),
            shipments::lease_until.eq(None::<DateTime<Utc>>),
            shipments::failure_reason.eq(Some(reason)),
            shipments::failure_message.eq(Some(message)),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)
}

/// `REQUESTED → CREATED`: the order now ships with it.
pub fn mark_created(conn: &mut PgConnection, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(requested(id))
        .set((
            shipments::state.eq(CREATED),
            shipments::lease_until.eq(None::<DateTime<Utc>>),
            shipments::failure_reason.eq(None::<String>),
            shipments::failure_message.eq(None::<String>),
            shipments::updated_at.eq(now),
        ))
        .execute(conn)
}

/// `CREATED → SUPERSEDED`: a confirmed re-creation replaced it (R20).
pub fn supersede(conn: &mut PgConnection, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        shipments::table
            .find(id)
            .filter(shipments::state.eq(CREATED)),
    )
    .set((
        shipments::state.eq(SUPERSEDED),
        shipments::updated_at.eq(now),
    ))
    .execute(conn)
}

/// The row `id` while it is still `REQUESTED`: every step of a dispatch moves it only from there.
#[diesel::dsl::auto_type]
fn requested<'a>(id: &'a str) -> _ {
    let state: &'static str = REQUESTED;
    shipments::table.find(id).filter(shipments::state.eq(state))
}
