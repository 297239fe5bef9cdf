//! Plain inputs of the operations, validated at the edge of each operation.

use chrono::{DateTime, Utc};
use fulfillment_core::Violations;
use fulfillment_core::models::Address;
// The shared vocabulary lives in `fulfillment-core` (tracking and dispatch check with it too).
pub use fulfillment_core::input::{Actor, MAX_ID_LEN, MAX_TEXT_LEN, check_id};
use fulfillment_policy::tracking_number::{Channel, validate_country_code};

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

/// Checks the order ids of one call: 1 to `max` (`at most {max} orders per {per}`), each an
/// id, none repeated. Answers them sorted, without repeats.
pub fn check_order_ids(
    v: &mut Violations,
    field: &str,
    order_ids: &[String],
    (max, per): (usize, &str),
) -> Vec<String> {
    if order_ids.is_empty() {
        v.add(field, "is required");
    } else if order_ids.len() > max {
        v.add(field, format!("at most {max} orders per {per}"));
    }
    for id in order_ids {
        check_id(v, field, id);
    }
    let mut sorted = order_ids.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != order_ids.len() {
        v.add(field, "must not repeat an order id");
    }
    sorted
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
