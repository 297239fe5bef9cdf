//! CheckCombinedShipment (R10, R11): loads the orders (and those already on a tracking) and asks
//! the rule.

use diesel::PgConnection;
use fulfillment_core::models::Order;
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::combined_shipment::{
    Address, CombinedShipmentCheck, ShipmentOrder, check_combined_shipment,
};
use fulfillment_policy::tracking_number::{find_carrier, normalize_tracking_number};
use fulfillment_policy::values::Policy;

use crate::input::check_id;
use crate::ship::MAX_ORDERS_PER_SHIPMENT;

/// The facts R10 compares, taken from a stored order.
pub fn shipment_order(order: &Order) -> ShipmentOrder {
    ShipmentOrder {
        order_id: order.id.clone(),
        merchant_id: order.merchant_id.clone(),
        recipient_name: order.ship_name.clone(),
        address: Address {
            street_address1: order.ship_street_address1.clone(),
            street_address2: order.ship_street_address2.clone(),
            city: order.ship_city.clone(),
            state: order.ship_state.clone(),
            zipcode: order.ship_zipcode.clone(),
            country: order.ship_country.clone(),
        },
        released_at: order.released_at,
        fulfillment_deadline: order.fulfillment_deadline,
        is_wish_express: order.is_wish_express,
    }
}

pub struct CombinedCheckOutcome {
    pub check: CombinedShipmentCheck,
    /// Orders already on the given tracking that took part in the check.
    pub existing_order_ids: Vec<String>,
}

/// Could these orders (plus any already on `tracking`) share one tracking number?
pub fn check_combined(
    conn: &mut PgConnection,
    policy: &Policy,
    merchant_id: &str,
    order_ids: &[String],
    tracking: Option<(&str, &str)>,
) -> ServiceResult<CombinedCheckOutcome> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    if order_ids.is_empty() {
        v.add("order_ids", "is required");
    } else if order_ids.len() > MAX_ORDERS_PER_SHIPMENT {
        v.add(
            "order_ids",
            format!("at most {MAX_ORDERS_PER_SHIPMENT} orders"),
        );
    }
    for id in order_ids {
        check_id(&mut v, "order_ids", id);
    }
    let tracking = match tracking {
        Some((carrier, number)) => match find_carrier(carrier) {
            Some(info) => Some((info.code, normalize_tracking_number(number))),
            None => {
                v.add("carrier", format!("unknown carrier {carrier:?}"));
                None
            }
        },
        None => None,
    };
    v.finish("INVALID_REQUEST")?;
    fulfillment_core::input::require_merchant(conn, merchant_id)?;

    let orders = repo::orders::find_many(conn, merchant_id, order_ids)?;
    if let Some(missing) = order_ids
        .iter()
        .find(|id| !orders.iter().any(|o| &o.id == *id))
    {
        return Err(ServiceError::not_found("order", missing));
    }
    let mut existing = Vec::new();
    if let Some((carrier, number)) = tracking {
        // Another merchant's tracking is reported as unknown: its orders are none of our business.
        if let Some(t) = repo::trackings::find(conn, carrier, &number)?
            && t.merchant_id == merchant_id
        {
            existing = repo::trackings::current_orders(conn, t.id)?;
            existing.retain(|o| !order_ids.contains(&o.id));
        }
    }
    let facts: Vec<ShipmentOrder> = existing
        .iter()
        .chain(orders.iter())
        .map(shipment_order)
        .collect();
    Ok(CombinedCheckOutcome {
        check: check_combined_shipment(&facts, &policy.values),
        existing_order_ids: existing.into_iter().map(|o| o.id).collect(),
    })
}
