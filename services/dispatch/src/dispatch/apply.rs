//! Step 3 of a dispatch: the order marked shipped with the carrier's tracking number through
//! the `FulfillOrder` path (R3), and the attempt `CREATED`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::input::Actor;
use fulfillment_core::models::Order;
use fulfillment_core::repo::shipments::{self as repo, ShipmentRow};
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_orders::input::TrackingInput;
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::tracking_number::Channel;

use super::decide::lock_order;
use super::request::origin_country;
use super::{CreateShipments, DispatchContext, Outcome, ShipmentResult};

/// Step 3: marks the order shipped with the carrier's tracking number and the attempt
/// `CREATED`, in one transaction.
pub(super) async fn apply(
    ctx: &DispatchContext,
    actor: &Actor,
    req: &Arc<CreateShipments>,
    shipment: ShipmentRow,
) -> ShipmentResult {
    let now = ctx.clock.now();
    let applied = {
        let (policies, actor, req) = (Arc::clone(&ctx.policies), actor.clone(), Arc::clone(req));
        let id = shipment.id.clone();
        ctx.db
            .transaction(move |conn| {
                let policy = policies.at(conn, now)?;
                apply_in(conn, now, &policy, &actor, &req, &id)
            })
            .await
    };
    let error = match applied {
        Ok(result) => return result,
        Err(error) => error,
    };
    let transient = matches!(
        error,
        ServiceError::Internal(_) | ServiceError::Unavailable(_) | ServiceError::Aborted { .. }
    );
    let carrier_shipment_id = shipment.carrier_shipment_id.as_deref().unwrap_or_default();
    let number = shipment.tracking_number.as_deref().unwrap_or_default();
    let (reason, message) = if transient {
        tracing::error!(
            shipment = %shipment.id,
            order = %shipment.order_id,
            error = ?error,
            "the carrier created the shipment but marking the order shipped failed"
        );
        (
            "SHIPMENT_NOT_APPLIED",
            format!(
                "{} created shipment {carrier_shipment_id} (tracking number {number}) but marking \
                 the order shipped failed: retry to apply it (the carrier is not called again)",
                shipment.carrier
            ),
        )
    } else {
        (
            error.reason(),
            format!(
                "{} created shipment {carrier_shipment_id} (tracking number {number}) but it \
                 cannot be attached to the order: {error}. Cancel it with the carrier if it will \
                 not be used",
                shipment.carrier
            ),
        )
    };
    let written = {
        let (id, message) = (shipment.id.clone(), message.clone());
        ctx.db
            .transaction(move |conn| {
                Ok(if transient {
                    repo::release(conn, &id, reason, &message, now)?
                } else {
                    repo::fail(conn, &id, reason, &message, now)?
                })
            })
            .await
    };
    if let Err(e) = written {
        tracing::warn!(shipment = %shipment.id, error = %e, "cannot record why a shipment was not applied");
    }
    ShipmentResult::of(&shipment, Outcome::Failed, reason, message)
}

fn apply_in(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &fulfillment_policy::values::Policy,
    actor: &Actor,
    req: &CreateShipments,
    shipment_id: &str,
) -> ServiceResult<ShipmentResult> {
    let shipment = repo::lock(conn, shipment_id)?
        .ok_or_else(|| ServiceError::not_found("shipment", shipment_id))?;
    if let Some(settled) = settled(&shipment) {
        return Ok(settled);
    }
    let Some(number) = shipment.tracking_number.clone() else {
        return Err(ServiceError::internal(format!(
            "shipment {shipment_id} is applied without a tracking number"
        )));
    };
    let ids = [shipment.order_id.clone()];
    let order = lock_order(conn, &shipment.merchant_id, &ids)?
        .ok_or_else(|| ServiceError::not_found("order", &shipment.order_id))?;
    let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;
    let mode = ship_mode(state, &shipment, req, &order)?;
    // A confirmed re-creation replaces the shipment the order shipped with (R20).
    if let Some(current) = repo::live_for_order_locked(conn, &order.id, repo::CREATED)? {
        repo::supersede(conn, &current.id, now)?;
    }
    ship(
        conn,
        now,
        policy,
        actor,
        &ShipRequest {
            merchant_id: order.merchant_id.clone(),
            order_ids: vec![order.id.clone()],
            tracking: TrackingInput {
                tracking_number: number,
                carrier: shipment.carrier.clone(),
                origin_country: origin_country(req),
                channel: Channel::Api,
            },
            mode,
        },
    )?;
    repo::mark_created(conn, &shipment.id, now)?;
    Ok(ShipmentResult::created(&shipment))
}

/// The attempt's answer when it is no longer open: applied by another call, or failed.
fn settled(shipment: &ShipmentRow) -> Option<ShipmentResult> {
    match shipment.state.as_str() {
        // Another call applied it first.
        repo::CREATED => Some(ShipmentResult::created(shipment)),
        repo::REQUESTED => None,
        _ => Some(ShipmentResult::of(
            shipment,
            Outcome::Failed,
            shipment
                .failure_reason
                .as_deref()
                .unwrap_or("SHIPMENT_FAILED"),
            shipment.failure_message.clone().unwrap_or_default(),
        )),
    }
}

/// How the order is shipped with the attempt: R3 for an approved order, R4's replacement for a
/// confirmed re-creation (R20); refused otherwise.
fn ship_mode(
    state: OrderState,
    shipment: &ShipmentRow,
    req: &CreateShipments,
    order: &Order,
) -> ServiceResult<ShipMode> {
    match state {
        OrderState::Approved => Ok(ShipMode::Fulfil),
        OrderState::Shipped if shipment.recreate || req.confirm_recreate => {
            Ok(ShipMode::ModifyTracking)
        }
        OrderState::Shipped => Err(ServiceError::precondition(
            "ORDER_ALREADY_SHIPPED",
            format!(
                "R20: order {} was marked shipped while its shipment was being created",
                order.id
            ),
        )),
        OrderState::Refunded => Err(ServiceError::precondition(
            "ORDER_REFUNDED",
            format!(
                "R3: order {} is REFUNDED and can no longer be shipped",
                order.id
            ),
        )),
    }
}
