//! R1: an order enters the service when the marketplace releases it to its merchant (what a
//! release may claim is `fulfillment_policy::release`).

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::{Address, NewOrder, NewOrderEvent};
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::deadline::fulfillment_deadline;
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::release;
use fulfillment_policy::values::Policy;
use serde_json::json;

use crate::input::{Actor, MAX_TEXT_LEN, ReleaseInput, check_address, check_id};
use crate::view::{OrderView, load_view};

/// Releases an order (R1) with its deadline (R2). Releasing an id again returns the existing
/// order unchanged (`false`), so the pipeline can retry safely.
pub fn release_order(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    input: &ReleaseInput,
) -> ServiceResult<(OrderView, bool)> {
    let checked = check_release(input, now)?;
    let released_at = checked.released_at;
    if repo::merchants::find(conn, &input.merchant_id)?.is_none() {
        return Err(ServiceError::not_found("merchant", &input.merchant_id));
    }
    let new = new_order(input, now, policy, checked)?;
    let Some(order) = repo::orders::insert(conn, &new)? else {
        let existing = repo::orders::find_any(conn, &input.order_id)?
            .ok_or_else(|| ServiceError::internal("order vanished after a conflicting insert"))?;
        if existing.merchant_id != input.merchant_id {
            // Do not reveal whose order it is.
            return Err(ServiceError::AlreadyExists {
                reason: "ORDER_ID_TAKEN",
                message: format!("order id {} is already in use", input.order_id),
            });
        }
        return Ok((load_view(conn, existing, now)?, false));
    };
    repo::audit::record_event(
        conn,
        &NewOrderEvent {
            order_id: &order.id,
            merchant_id: &order.merchant_id,
            actor: &actor.0,
            kind: "released",
            state_before: None,
            state_after: &order.state,
            policy_version: Some(policy.version),
            details: json!({
                "released_at": released_at,
                "fulfillment_deadline": order.fulfillment_deadline,
                "rule": "R1,R2",
            }),
            occurred_at: now,
        },
    )?;
    Ok((load_view(conn, order, now)?, true))
}

/// A release's fields, checked (R1, R18).
struct Checked {
    released_at: DateTime<Utc>,
    shipping: Address,
    customer: Address,
    quantity: i32,
}

/// Checks the release, reporting every bad field at once.
fn check_release(input: &ReleaseInput, now: DateTime<Utc>) -> ServiceResult<Checked> {
    let mut v = Violations::new();
    check_id(&mut v, "order_id", &input.order_id);
    check_id(&mut v, "merchant_id", &input.merchant_id);
    let released_at = match release::released_at(input.released_at, now) {
        Ok(at) => at,
        Err(refusal) => {
            v.add("released_at", refusal.to_string());
            now
        }
    };
    let shipping = match &input.shipping_detail {
        Some(address) => Some(check_address(&mut v, "shipping_detail", address)),
        None => {
            v.add("shipping_detail", "is required");
            None
        }
    };
    let customer = match &input.customer_shipping_detail {
        Some(address) => Some(check_address(&mut v, "customer_shipping_detail", address)),
        // R18: an A+ order ships to the warehouse, so the customer's address must come separately.
        None if input.is_advanced_logistics => {
            v.add(
                "customer_shipping_detail",
                "is required for an A+ (advanced logistics) order",
            );
            None
        }
        None => shipping.clone(),
    };
    v.optional_text("product_id", &input.product_id, MAX_TEXT_LEN);
    v.optional_text("product_name", &input.product_name, MAX_TEXT_LEN);
    let quantity = release::quantity(input.quantity).unwrap_or_else(|refusal| {
        v.add("quantity", refusal.to_string());
        input.quantity
    });
    v.finish("INVALID_ORDER")?;
    let (Some(shipping), Some(customer)) = (shipping, customer) else {
        return Err(ServiceError::internal("validated addresses missing"));
    };
    Ok(Checked {
        released_at,
        shipping,
        customer,
        quantity,
    })
}

/// The order row a checked release becomes: `APPROVED`, with its deadline (R2).
fn new_order(
    input: &ReleaseInput,
    now: DateTime<Utc>,
    policy: &Policy,
    checked: Checked,
) -> ServiceResult<NewOrder> {
    Ok(NewOrder {
        id: input.order_id.clone(),
        merchant_id: input.merchant_id.clone(),
        state: OrderState::Approved.as_str().to_owned(),
        initial_released_at: checked.released_at,
        released_at: checked.released_at,
        fulfillment_deadline: fulfillment_deadline(checked.released_at, &policy.values),
        is_wish_express: input.is_wish_express,
        is_advanced_logistics: input.is_advanced_logistics,
        ship_name: checked.shipping.name,
        ship_street_address1: checked.shipping.street_address1,
        ship_street_address2: checked.shipping.street_address2,
        ship_city: checked.shipping.city,
        ship_state: checked.shipping.state,
        ship_zipcode: checked.shipping.zipcode,
        ship_country: checked.shipping.country,
        ship_phone_number: checked.shipping.phone_number,
        customer_shipping_detail: serde_json::to_value(&checked.customer)
            .map_err(ServiceError::internal)?,
        product_id: input.product_id.clone(),
        product_name: input.product_name.clone(),
        quantity: checked.quantity,
        created_at: now,
        updated_at: now,
    })
}
