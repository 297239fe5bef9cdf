//! Rows as stored. Conversions to domain and wire types live with their users.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{
    intelipost_integrations, merchants, order_events, order_trackings, orders, outbox, policies,
    tracking_events, trackings,
};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = merchants, check_for_backend(diesel::pg::Pg))]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub country: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = policies, check_for_backend(diesel::pg::Pg))]
pub struct PolicyRow {
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub fulfillment_window_days: i32,
    pub combine_window_days: i32,
    pub rerelease_window_days: i32,
    pub rerelease_deadline_days: i32,
    pub confirmed_removal_from: DateTime<Utc>,
    pub rerelease_from: DateTime<Utc>,
    pub rerelease_countries: Vec<String>,
}

/// A postal address with its recipient, as stored in the `ship_*` / `customer_*` columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Address {
    pub name: String,
    pub street_address1: String,
    pub street_address2: String,
    pub city: String,
    pub state: String,
    pub zipcode: String,
    pub country: String,
    pub phone_number: String,
}

impl Address {
    /// An address kept as JSON (the customer's own, R18); empty fields where the JSON has none.
    pub fn from_stored_json(json: &serde_json::Value) -> Self {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }
}

/// The `ship_*` fields of a row (an order, or a claim that selects the order's columns) as an
/// [`Address`]: one spelling of the column-to-field mapping for every row type that has them.
macro_rules! ship_address {
    ($row:expr) => {
        $crate::models::Address {
            name: $row.ship_name.clone(),
            street_address1: $row.ship_street_address1.clone(),
            street_address2: $row.ship_street_address2.clone(),
            city: $row.ship_city.clone(),
            state: $row.ship_state.clone(),
            zipcode: $row.ship_zipcode.clone(),
            country: $row.ship_country.clone(),
            phone_number: $row.ship_phone_number.clone(),
        }
    };
}
pub(crate) use ship_address;

/// Declares [`Order`] (the row as stored) and [`NewOrder`] (what a release inserts) from one
/// list of the columns a release writes, so the two cannot drift apart; the columns only later
/// writes set follow in `Order` alone. The field order is the table's column order.
macro_rules! order_rows {
    (
        released { $($field:ident: $ty:ty,)* }
        later { $($later:ident: $later_ty:ty,)* }
    ) => {
        #[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
        #[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
        pub struct Order {
            $(pub $field: $ty,)*
            $(pub $later: $later_ty,)*
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
        }

        #[derive(Debug, Clone, Insertable)]
        #[diesel(table_name = orders)]
        pub struct NewOrder {
            $(pub $field: $ty,)*
            pub created_at: DateTime<Utc>,
            pub updated_at: DateTime<Utc>,
        }
    };
}

order_rows! {
    released {
        id: String,
        merchant_id: String,
        state: String,
        initial_released_at: DateTime<Utc>,
        released_at: DateTime<Utc>,
        fulfillment_deadline: DateTime<Utc>,
        is_wish_express: bool,
        is_advanced_logistics: bool,
        ship_name: String,
        ship_street_address1: String,
        ship_street_address2: String,
        ship_city: String,
        ship_state: String,
        ship_zipcode: String,
        ship_country: String,
        ship_phone_number: String,
        customer_shipping_detail: serde_json::Value,
        product_id: String,
        product_name: String,
        quantity: i32,
    }
    later {
        tracking_number_cancelled: bool,
        tracking_number_cancelled_date: Option<DateTime<Utc>>,
        is_re_released: bool,
        order_re_released_date: Option<DateTime<Utc>>,
        flags: Vec<String>,
        refund_reason: Option<String>,
        refunded_at: Option<DateTime<Utc>>,
    }
}

impl Order {
    pub fn shipping_detail(&self) -> Address {
        ship_address!(self)
    }

    /// The customer's own address (R18); falls back to empty fields if the JSON is incomplete.
    pub fn customer_shipping_detail(&self) -> Address {
        Address::from_stored_json(&self.customer_shipping_detail)
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = trackings, check_for_backend(diesel::pg::Pg))]
pub struct Tracking {
    pub id: i64,
    pub merchant_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub status: String,
    pub carrier_status_code: Option<String>,
    pub carrier_status_text: Option<String>,
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub poll_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = trackings)]
pub struct NewTracking<'a> {
    pub merchant_id: &'a str,
    pub carrier: &'a str,
    pub tracking_number: &'a str,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = order_trackings, check_for_backend(diesel::pg::Pg))]
pub struct OrderTracking {
    pub id: i64,
    pub order_id: String,
    pub tracking_id: i64,
    pub origin_country: String,
    pub channel: String,
    pub shipped_at: DateTime<Utc>,
    pub shipped_late: bool,
    pub is_current: bool,
    pub replaced_at: Option<DateTime<Utc>>,
    pub confirmed_removed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_trackings)]
pub struct NewOrderTracking<'a> {
    pub order_id: &'a str,
    pub tracking_id: i64,
    pub origin_country: &'a str,
    pub channel: &'a str,
    pub shipped_at: DateTime<Utc>,
    pub shipped_late: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: String,
    pub merchant_id: String,
    pub actor: String,
    pub kind: String,
    pub state_before: Option<String>,
    pub state_after: String,
    pub policy_version: Option<i32>,
    pub details: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_events)]
pub struct NewOrderEvent<'a> {
    pub order_id: &'a str,
    pub merchant_id: &'a str,
    pub actor: &'a str,
    pub kind: &'a str,
    pub state_before: Option<&'a str>,
    pub state_after: &'a str,
    pub policy_version: Option<i32>,
    pub details: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEvent {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub merchant_id: String,
    pub order_id: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutboxEvent<'a> {
    pub event_id: String,
    pub event_type: &'a str,
    pub merchant_id: &'a str,
    pub order_id: Option<&'a str>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tracking_events, check_for_backend(diesel::pg::Pg))]
pub struct TrackingEvent {
    pub id: i64,
    pub tracking_id: i64,
    pub event_key: String,
    pub source: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub status: String,
    pub carrier_status_code: String,
    pub carrier_status_text: String,
    pub location: String,
    pub raw_payload: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tracking_events)]
pub struct NewTrackingEvent<'a> {
    pub tracking_id: i64,
    pub event_key: String,
    pub source: &'a str,
    pub actor: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub status: &'a str,
    pub carrier_status_code: &'a str,
    pub carrier_status_text: &'a str,
    pub location: &'a str,
    pub raw_payload: &'a str,
    pub received_at: DateTime<Utc>,
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = intelipost_integrations, check_for_backend(diesel::pg::Pg))]
pub struct IntelipostIntegration {
    pub merchant_id: String,
    pub username: String,
    pub password_hash: String,
    pub connected: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_push_at: Option<DateTime<Utc>>,
}

// The hash is not a secret the way a password is, but it has no business in logs either.
impl std::fmt::Debug for IntelipostIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntelipostIntegration")
            .field("merchant_id", &self.merchant_id)
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("connected", &self.connected)
            .field("last_push_at", &self.last_push_at)
            .finish()
    }
}
