//! Plain inputs of the operations, validated at the edge of each operation.

use chrono::{DateTime, Utc};
use fulfillment_core::Violations;
use fulfillment_core::models::Address;
use fulfillment_policy::tracking_number::{Channel, validate_country_code};

pub const MAX_ID_LEN: usize = 64;
pub const MAX_TEXT_LEN: usize = 200;

/// Who is acting, recorded in every audit row (e.g. `api:anonymous`, `worker:deadline-enforcer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn api(caller: &str) -> Self {
        Self(format!("api:{caller}"))
    }
}

/// An address as sent by a caller; `None` fields of the wire message become empty strings.
pub type AddressInput = Address;

#[derive(Debug, Clone)]
pub struct ReleaseInput {
    pub order_id: String,
    pub merchant_id: String,
    pub released_at: Option<DateTime<Utc>>,
    pub is_wish_express: bool,
    pub is_advanced_logistics: bool,
    pub shipping_detail: Option<AddressInput>,
    pub customer_shipping_detail: Option<AddressInput>,
    pub product_id: String,
    pub product_name: String,
    pub quantity: i32,
}

#[derive(Debug, Clone)]
pub struct TrackingInput {
    pub tracking_number: String,
    pub carrier: String,
    pub origin_country: String,
    pub channel: Channel,
}

pub fn check_id(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.add(field, "is required");
    } else if value.len() > MAX_ID_LEN {
        v.add(field, format!("must be at most {MAX_ID_LEN} characters"));
    } else if value.trim() != value || value.chars().any(char::is_control) {
        v.add(
            field,
            "must not contain surrounding spaces or control characters",
        );
    }
}

/// Checks an address; returns it with the country code upper-cased.
pub fn check_address(v: &mut Violations, field: &str, address: &Address) -> Address {
    v.text(&format!("{field}.name"), &address.name, MAX_TEXT_LEN);
    v.text(
        &format!("{field}.street_address1"),
        &address.street_address1,
        MAX_TEXT_LEN,
    );
    v.optional_text(
        &format!("{field}.street_address2"),
        &address.street_address2,
        MAX_TEXT_LEN,
    );
    v.text(&format!("{field}.city"), &address.city, MAX_TEXT_LEN);
    v.optional_text(&format!("{field}.state"), &address.state, MAX_TEXT_LEN);
    v.text(&format!("{field}.zipcode"), &address.zipcode, MAX_TEXT_LEN);
    v.optional_text(
        &format!("{field}.phone_number"),
        &address.phone_number,
        MAX_TEXT_LEN,
    );
    let mut checked = address.clone();
    match validate_country_code(&address.country) {
        Ok(code) => checked.country = code,
        Err(e) => v.add(format!("{field}.country"), e.to_string()),
    }
    checked
}
