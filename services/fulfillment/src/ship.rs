//! Marking orders shipped (R3), several on one tracking (R10, R11), and replacing a tracking
//! (R4). One path for all three, so a rule checked for one is checked for all.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::Order;
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::combined_shipment::{CombinedShipmentCheck, check_combined_shipment};
use fulfillment_policy::deadline::is_late;
use fulfillment_policy::order_state::{OrderState, check_can_fulfill, check_can_modify_tracking};
use fulfillment_policy::tracking_number::{
    Channel, ValidTracking, is_unresolved_intelipost, validate_country_code,
    validate_tracking_number,
};
use fulfillment_policy::values::Policy;
use serde_json::json;

use crate::combined::shipment_order;
use crate::input::{Actor, TrackingInput, check_id};
use crate::view::{OrderView, TrackingLink, load_views};

/// Most orders one parcel may carry in a single call.
pub const MAX_ORDERS_PER_SHIPMENT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipMode {
    /// `APPROVED -> SHIPPED` (R3).
    Fulfil,
    /// Replace the tracking of a `SHIPPED` order (R4).
    ModifyTracking,
}

#[derive(Debug)]
pub struct ShipOutcome {
    /// The shipped orders, in the order requested.
    pub orders: Vec<OrderView>,
    /// Orders that were already on the tracking before this call.
    pub combined_with: Vec<String>,
    /// The R10/R11 check over everything now on the tracking.
    pub check: CombinedShipmentCheck,
    /// For ModifyTracking: the tracking that was replaced.
    pub previous: Option<TrackingLink>,
}

/// Validates the tracking fields (R3, R12), reporting every bad field at once.
pub fn validate_tracking_input(input: &TrackingInput) -> ServiceResult<(ValidTracking, String)> {
    let tracking = validate_tracking_number(&input.carrier, &input.tracking_number, input.channel);
    let country = validate_country_code(&input.origin_country);
    match (tracking, country) {
        (Ok(tracking), Ok(country)) => Ok((tracking, country)),
        (tracking, country) => {
            let mut v = Violations::new();
            let mut reason = "COUNTRY_CODE_INVALID";
            if let Err(e) = &tracking {
                v.add(e.field(), e.to_string());
                reason = e.reason();
            }
            if let Err(e) = &country {
                v.add("origin_country", e.to_string());
            }
            Err(v.into_error(reason))
        }
    }
}

/// What to ship: orders of one merchant, one tracking.
#[derive(Debug, Clone)]
pub struct ShipRequest {
    pub merchant_id: String,
    pub order_ids: Vec<String>,
    pub tracking: TrackingInput,
    pub mode: ShipMode,
}

/// Ships the request's orders with one tracking, in one transaction (the caller's).
pub fn ship(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    request: &ShipRequest,
) -> ServiceResult<ShipOutcome> {
    let merchant_id = request.merchant_id.as_str();
    let order_ids = request.order_ids.as_slice();
    let input = &request.tracking;
    let mode = request.mode;
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let ids_field = if order_ids.len() == 1 {
        "order_id"
    } else {
        "order_ids"
    };
    if order_ids.is_empty() {
        v.add(ids_field, "is required");
    } else if order_ids.len() > MAX_ORDERS_PER_SHIPMENT {
        v.add(
            ids_field,
            format!("at most {MAX_ORDERS_PER_SHIPMENT} orders per shipment"),
        );
    }
    for id in order_ids {
        check_id(&mut v, ids_field, id);
    }
    let mut sorted = order_ids.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != order_ids.len() {
        v.add(ids_field, "must not repeat an order id");
    }
    v.finish("INVALID_REQUEST")?;
    let (mut valid, origin_country) = validate_tracking_input(input)?;
    // R12: a carrier's number sent by API becomes the NF-e number Intelipost reported for it;
    // without a report it is stored as sent and listed as stuck, never guessed.
    let mut resolved_from = None;
    if is_unresolved_intelipost(valid.carrier, &valid.tracking_number)
        && let Some(nfe) = repo::intelipost::resolve(conn, merchant_id, &valid.tracking_number)?
    {
        resolved_from = Some(std::mem::replace(&mut valid.tracking_number, nfe));
    }

    let new_tracking = fulfillment_core::models::NewTracking {
        merchant_id,
        carrier: valid.carrier,
        tracking_number: &valid.tracking_number,
        next_poll_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    // The orders locked and the tracking had (created, or locked) in one statement.
    let (locked, taken) =
        repo::orders::lock_for_shipping(conn, merchant_id, &sorted, &new_tracking)?;
    if let Some(missing) = sorted
        .iter()
        .find(|id| !locked.iter().any(|o| &o.id == *id))
    {
        return Err(ServiceError::not_found("order", missing));
    }
    for order in &locked {
        let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;
        let allowed = match mode {
            ShipMode::Fulfil => check_can_fulfill(state),
            ShipMode::ModifyTracking => check_can_modify_tracking(state),
        };
        allowed.map_err(|e| {
            ServiceError::precondition(e.reason(), format!("order {}: {e}", order.id))
        })?;
    }

    let (tracking, created) = match taken {
        Some(taken) => taken,
        // Created by another caller since the statement began: take it in a statement of its own.
        None => repo::trackings::get_or_create_locked(conn, &new_tracking)?,
    };
    if tracking.merchant_id != merchant_id {
        return Err(ServiceError::AlreadyExists {
            reason: "TRACKING_NUMBER_IN_USE",
            message: format!(
                "R3: {} tracking number {} is already used by another merchant",
                valid.carrier, valid.tracking_number
            ),
        });
    }
    if tracking.cancelled_at.is_some() {
        return Err(ServiceError::precondition(
            "TRACKING_NUMBER_CANCELLED",
            format!(
                "R16: {} tracking number {} was cancelled; ship with a new tracking number",
                valid.carrier, valid.tracking_number
            ),
        ));
    }

    // R10 is checked against every order already on the tracking; a tracking this call just
    // created has none, so the read is skipped (one round trip of the hot path).
    let on_tracking = if created {
        Vec::new()
    } else {
        repo::trackings::current_orders(conn, tracking.id)?
    };
    if let Some(same) = on_tracking.iter().find(|o| sorted.contains(&o.id)) {
        return Err(ServiceError::precondition(
            "TRACKING_UNCHANGED",
            format!(
                "R4: order {} already ships with {} tracking number {}",
                same.id, valid.carrier, valid.tracking_number
            ),
        ));
    }
    let combined_with: Vec<String> = on_tracking.iter().map(|o| o.id.clone()).collect();
    let group: Vec<&Order> = on_tracking.iter().chain(locked.iter()).collect();
    let check = check_combined_shipment(
        &group.iter().map(|o| shipment_order(o)).collect::<Vec<_>>(),
        &policy.values,
    );
    if !check.allowed {
        let reason = check
            .violations
            .first()
            .map(|v| v.kind.reason())
            .unwrap_or("COMBINED_SHIPMENT_REFUSED");
        let message = check
            .violations
            .iter()
            .map(|v| v.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ServiceError::precondition(reason, message));
    }

    let channel = match input.channel {
        Channel::Api => "API",
        Channel::Dashboard => "DASHBOARD",
    };
    let (kind, new_state) = match mode {
        ShipMode::Fulfil => ("shipped", Some(OrderState::Shipped.as_str())),
        ShipMode::ModifyTracking => ("tracking_modified", None),
    };
    let mut previous = None;
    let mut shipped = Vec::with_capacity(locked.len());
    for order in &locked {
        let shipped_late = is_late(order.fulfillment_deadline, now);
        // R4: the tracking being replaced moves into the order's history first.
        let previous_tracking = match mode {
            ShipMode::ModifyTracking => {
                match repo::trackings::retire_current(conn, &order.id, now)? {
                    Some(link) => {
                        repo::orders::links_with_trackings(conn, std::slice::from_ref(&order.id))?
                            .into_iter()
                            .find(|(l, _)| l.id == link.id)
                            .map(|(link, tracking)| TrackingLink { link, tracking })
                    }
                    None => None,
                }
            }
            ShipMode::Fulfil => None,
        };
        shipped.push(repo::orders::ShippedOrder {
            order_id: order.id.clone(),
            shipped_late,
            state_before: order.state.clone(),
            details: json!({
                "carrier": valid.carrier,
                "tracking_number": valid.tracking_number,
                "origin_country": origin_country,
                "channel": channel,
                "resolved_from": resolved_from,
                "shipped_late": shipped_late,
                "combined_with": combined_with,
                "requirement": check.requirement.as_str(),
                "previous_tracking": previous_tracking.as_ref().map(|p| json!({
                    "carrier": p.tracking.carrier,
                    "tracking_number": p.tracking.tracking_number,
                })),
            }),
            // R9: the customer hears the tracking number in the same transaction as the change.
            payload: json!({
                "order_id": order.id,
                "reason": kind,
                "carrier": valid.carrier,
                "tracking_number": valid.tracking_number,
            }),
        });
        if previous.is_none() {
            previous = previous_tracking;
        }
    }
    // Links, states, audit rows and outbox rows in one statement.
    let links = repo::orders::record_shipment(
        conn,
        &repo::orders::Shipment {
            merchant_id,
            tracking_id: tracking.id,
            origin_country: &origin_country,
            channel,
            actor: &actor.0,
            kind,
            new_state,
            policy_version: policy.version,
            now,
            orders: &shipped,
        },
    )?;

    // The rows were read before the update: bring them up to what was written.
    let shipped: Vec<Order> = locked
        .into_iter()
        .map(|mut order| {
            if let Some(state) = new_state {
                order.state = state.to_owned();
                order.updated_at = now;
            }
            order
        })
        .collect();
    // The answer comes from what the write returned; only an order that had trackings before
    // (re-released, or ModifyTracking's replaced one) needs its history read.
    let mut views = if links.iter().any(|l| l.has_history) || links.len() != shipped.len() {
        load_views(conn, shipped, now)?
    } else {
        shipped
            .into_iter()
            .zip(&links)
            .map(|(order, link)| {
                OrderView::new(
                    order,
                    vec![TrackingLink {
                        link: link.link(),
                        tracking: tracking.clone(),
                    }],
                    now,
                )
            })
            .collect()
    };
    // Answer in the order the caller asked.
    views.sort_by_key(|view| order_ids.iter().position(|id| *id == view.order.id));
    Ok(ShipOutcome {
        orders: views,
        combined_with,
        check,
        previous,
    })
}
