//! Step 1 of a dispatch: with the order and its shipments locked, decide what to do (finish an
//! open attempt, answer without the carrier, or record a new attempt to send).

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::Order;
use fulfillment_core::repo::shipments::{self as repo, NewShipment, ShipmentRow};
use fulfillment_core::secrets::random_id;
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::shipment::{self as shipment_rule, ShipmentFacts};

use super::{CreateShipments, Outcome, ShipmentResult, Step};

/// Step 1. Decides with the order (and its shipments) locked; records the attempt.
pub(super) fn begin(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    req: &CreateShipments,
    (account_id, carrier): (&str, &str),
    order_id: &str,
) -> ServiceResult<Step> {
    let ids = [order_id.to_owned()];
    let Some(order) = lock_order(conn, &req.merchant_id, &ids)? else {
        return Ok(Step::Done(ShipmentResult::failed(
            order_id,
            "ORDER_NOT_FOUND",
            format!("order {order_id} not found"),
        )));
    };
    let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;

    // An attempt already open for this order: finish it rather than start another.
    if let Some(open) = repo::live_for_order_locked(conn, order_id, repo::REQUESTED)? {
        return continue_open(
            conn,
            (now, lease_until),
            (account_id, carrier),
            (&order, state),
            open,
        );
    }

    if state == OrderState::Refunded {
        return Ok(Step::Done(ShipmentResult::failed(
            order_id,
            "ORDER_REFUNDED",
            "R3: order is REFUNDED and can no longer be shipped",
        )));
    }
    let current = repo::live_for_order_locked(conn, order_id, repo::CREATED)?;
    if let Some(current) = &current
        && req.request_key.is_some()
        && current.request_key == req.request_key
    {
        // A retry of the call that created it.
        return Ok(Step::Done(ShipmentResult::created(current)));
    }
    let facts = ShipmentFacts {
        state,
        has_shipment: current.is_some(),
        confirm_recreate: req.confirm_recreate,
    };
    if let Some(refused) = refusal(order_id, facts, current.as_ref()) {
        return Ok(Step::Done(refused));
    }

    let id = random_id("sh").map_err(ServiceError::internal)?;
    let shipment = repo::insert(
        conn,
        &NewShipment {
            id: &id,
            merchant_id: &req.merchant_id,
            order_id,
            account_id,
            carrier,
            state: repo::REQUESTED,
            reference: order_id,
            recreate: state == OrderState::Shipped,
            request_key: req.request_key.as_deref(),
            attempts: 1,
            lease_until: Some(lease_until),
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(Step::Send {
        shipment,
        receiver: order.shipping_detail(),
    })
}

/// The order, locked, if it belongs to the merchant.
pub(super) fn lock_order(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
) -> ServiceResult<Option<Order>> {
    Ok(fulfillment_core::repo::orders::lock_many(conn, merchant_id, ids)?.pop())
}

/// An attempt already open for this order: finish it rather than start another.
fn continue_open(
    conn: &mut PgConnection,
    (now, lease_until): (DateTime<Utc>, DateTime<Utc>),
    (account_id, carrier): (&str, &str),
    (order, state): (&Order, OrderState),
    open: ShipmentRow,
) -> ServiceResult<Step> {
    let order_id = order.id.as_str();
    if open.carrier_answered() {
        return Ok(Step::Apply(open));
    }
    if open.lease_until.is_some_and(|until| until > now) {
        return Ok(Step::Done(ShipmentResult::of(
            &open,
            Outcome::Failed,
            "SHIPMENT_IN_PROGRESS",
            format!(
                "another call is creating the shipment of order {order_id} right now; \
                 retry in a moment"
            ),
        )));
    }
    if state == OrderState::Refunded {
        let message = "R3: order is REFUNDED and can no longer be shipped";
        repo::fail(conn, &open.id, "ORDER_REFUNDED", message, now)?;
        return Ok(Step::Done(ShipmentResult::of(
            &open,
            Outcome::Failed,
            "ORDER_REFUNDED",
            message,
        )));
    }
    if open.carrier_shipment_id.is_some() {
        repo::lease(conn, &open.id, lease_until, now)?;
        return Ok(Step::Resume(open));
    }
    // The last send's outcome is unknown: send again, with the same reference.
    let shipment = repo::claim_for_send(conn, &open.id, account_id, carrier, lease_until, now)?;
    Ok(Step::Send {
        shipment,
        receiver: order.shipping_detail(),
    })
}

/// R20: why a shipment must not be created for the order, if it must not.
fn refusal(
    order_id: &str,
    facts: ShipmentFacts,
    current: Option<&ShipmentRow>,
) -> Option<ShipmentResult> {
    match (shipment_rule::may_create(facts), current) {
        (Ok(()), _) => None,
        (Err(refusal), Some(current)) => Some(ShipmentResult::of(
            current,
            Outcome::Skipped,
            refusal.reason(),
            format!(
                "R20: order {order_id} already has {} shipment {} (tracking number {}); set \
                     confirm_recreate to create another",
                current.carrier,
                current.carrier_shipment_id.as_deref().unwrap_or_default(),
                current.tracking_number.as_deref().unwrap_or_default(),
            ),
        )),
        (Err(refusal), None) => Some(
            ShipmentResult::failed(
                order_id,
                refusal.reason(),
                format!(
                    "R20: order {order_id} is already marked shipped; set confirm_recreate to \
                         create a shipment and replace its tracking"
                ),
            )
            .skipped(),
        ),
    }
}
