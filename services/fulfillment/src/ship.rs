//! Marking orders shipped (R3), several on one tracking (R10, R11), and replacing a tracking
//! (R4). One path for all three, so a rule checked for one is checked for all.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::models::{Order, Tracking};
use fulfillment_core::{ServiceError, ServiceResult, Violations, prepared, repo};
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
use crate::input::{Actor, TrackingInput, check_id, check_order_ids};
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

/// How the caller's transaction plans its statements when `ship` is called (issue 21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// Anyone's transaction: `ship` sets generic plans for its two statements and gives the
    /// transaction back PostgreSQL's own choice when it is done.
    Shared,
    /// Begun on generic plans (`Db::transaction_on_generic_plans`), with only primary-key
    /// statements after `ship`: nothing to set before, nothing to give back (two round trips).
    GenericThroughout,
}

/// Ships the request's orders with one tracking, in one transaction (the caller's), and leaves
/// that transaction planning as it found it.
///
/// The steps, in the order their statements run: the request checked, the tracking validated
/// and resolved (R3, R12), the orders locked with the tracking (R3, R4, R16), the group on the
/// tracking checked (R4, R10, R11), the shipment written (links, states, audit and outbox rows),
/// and the answer built.
pub fn ship(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &Policy,
    actor: &Actor,
    request: &ShipRequest,
) -> ServiceResult<ShipOutcome> {
    ship_with_plans(conn, (now, Plans::Shared), policy, actor, request)
}

/// [`ship`], told how the caller's transaction plans: with [`Plans::GenericThroughout`] (a
/// transaction begun by `Db::transaction_on_generic_plans`) it leaves generic plans on, so only
/// primary-key statements (the idempotency record) may follow.
pub fn ship_with_plans(
    conn: &mut PgConnection,
    (now, plans): (DateTime<Utc>, Plans),
    policy: &Policy,
    actor: &Actor,
    request: &ShipRequest,
) -> ServiceResult<ShipOutcome> {
    let merchant_id = request.merchant_id.as_str();
    let sorted = check_request(merchant_id, &request.order_ids)?;
    let resolved = resolve_tracking(conn, merchant_id, &request.tracking)?;
    let valid = &resolved.valid;
    // Issue 21: the call's two statements (the lock, the write) on generic plans, planned once
    // per connection; the reads of the rarer paths between and after them plan as before.
    if plans == Plans::Shared {
        prepared::generic_plans(conn)?;
    }
    let (locked, tracking, created) = lock(conn, now, request, &sorted, valid)?;
    // A tracking that existed has its R10 read; ModifyTracking retires the previous link.
    let reads_before_write = !created || request.mode == ShipMode::ModifyTracking;
    if reads_before_write {
        prepared::chosen_plans(conn)?;
    }
    let (on_tracking, check) =
        check_group(conn, policy, (&tracking, created), &sorted, &locked, valid)?;
    let combined_with: Vec<String> = on_tracking.iter().map(|o| o.id.clone()).collect();

    let channel = match request.tracking.channel {
        Channel::Api => "API",
        Channel::Dashboard => "DASHBOARD",
    };
    let (kind, new_state) = match request.mode {
        ShipMode::Fulfil => ("shipped", Some(OrderState::Shipped.as_str())),
        ShipMode::ModifyTracking => ("tracking_modified", None),
    };
    let details = Details {
        resolved: &resolved,
        channel,
        kind,
        combined_with: &combined_with,
        requirement: check.requirement.as_str(),
    };
    let (shipped, previous) = shipped_orders(conn, now, request.mode, &locked, &details)?;
    if reads_before_write {
        prepared::generic_plans(conn)?;
    }
    // Links, states, audit rows and outbox rows in one statement.
    let links = repo::orders::record_shipment(
        conn,
        &repo::orders::Shipment {
            merchant_id,
            tracking_id: tracking.id,
            origin_country: &resolved.origin_country,
            channel,
            actor: &actor.0,
            kind,
            new_state,
            policy_version: policy.version,
            now,
            orders: &shipped,
        },
    )?;
    // What follows in a shared transaction (a bulk file's next rows) plans as it always did;
    // `answer` reads only for an order with history, by primary key.
    if plans == Plans::Shared {
        prepared::chosen_plans(conn)?;
    }
    let views = answer(
        conn,
        now,
        (locked, new_state),
        &links,
        &tracking,
        &request.order_ids,
    )?;
    Ok(ShipOutcome {
        orders: views,
        combined_with,
        check,
        previous,
    })
}

/// The request's own fields: the merchant, and 1 to [`MAX_ORDERS_PER_SHIPMENT`] distinct order
/// ids. Answers the ids sorted (the order they are locked in).
fn check_request(merchant_id: &str, order_ids: &[String]) -> ServiceResult<Vec<String>> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let ids_field = if order_ids.len() == 1 {
        "order_id"
    } else {
        "order_ids"
    };
    let limit = (MAX_ORDERS_PER_SHIPMENT, "shipment");
    let sorted = check_order_ids(&mut v, ids_field, order_ids, limit);
    v.finish("INVALID_REQUEST")?;
    Ok(sorted)
}

/// The tracking as it is stored.
struct ResolvedTracking {
    valid: ValidTracking,
    origin_country: String,
    /// The number sent, when R12 replaced it.
    resolved_from: Option<String>,
}

/// Validates the tracking fields (R3, R12) and resolves an Intelipost number.
fn resolve_tracking(
    conn: &mut PgConnection,
    merchant_id: &str,
    input: &TrackingInput,
) -> ServiceResult<ResolvedTracking> {
    let (mut valid, origin_country) = validate_tracking_input(input)?;
    // R12: a carrier's number sent by API becomes the NF-e number Intelipost reported for it;
    // without a report it is stored as sent and listed as stuck, never guessed.
    let mut resolved_from = None;
    if is_unresolved_intelipost(valid.carrier, &valid.tracking_number)
        && let Some(nfe) = repo::intelipost::resolve(conn, merchant_id, &valid.tracking_number)?
    {
        resolved_from = Some(std::mem::replace(&mut valid.tracking_number, nfe));
    }
    Ok(ResolvedTracking {
        valid,
        origin_country,
        resolved_from,
    })
}

/// Locks the orders and has the tracking (created, or locked); checks each order may take it
/// (R3, R4) and the tracking may be used (R3: the merchant's own, R16: not cancelled). Answers
/// the orders, the tracking and whether this call created it.
fn lock(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    request: &ShipRequest,
    sorted: &[String],
    valid: &ValidTracking,
) -> ServiceResult<(Vec<Order>, Tracking, bool)> {
    let merchant_id = request.merchant_id.as_str();
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
        repo::orders::lock_for_shipping(conn, merchant_id, sorted, &new_tracking)?;
    if let Some(missing) = sorted
        .iter()
        .find(|id| !locked.iter().any(|o| &o.id == *id))
    {
        return Err(ServiceError::not_found("order", missing));
    }
    for order in &locked {
        let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;
        let allowed = match request.mode {
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
    Ok((locked, tracking, created))
}

/// Checks the orders against those already on the tracking: none of them there yet (R4), and
/// the group as a whole allowed (R10, R11). Answers the orders already there and the check.
fn check_group(
    conn: &mut PgConnection,
    policy: &Policy,
    (tracking, created): (&Tracking, bool),
    sorted: &[String],
    locked: &[Order],
    valid: &ValidTracking,
) -> ServiceResult<(Vec<Order>, CombinedShipmentCheck)> {
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
    Ok((on_tracking, check))
}

/// What every order's audit row and notification say of the shipment.
struct Details<'a> {
    resolved: &'a ResolvedTracking,
    channel: &'static str,
    kind: &'static str,
    combined_with: &'a [String],
    requirement: &'static str,
}

/// Each order's rows to write; for ModifyTracking, the first replaced tracking too.
fn shipped_orders(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    mode: ShipMode,
    locked: &[Order],
    details: &Details<'_>,
) -> ServiceResult<(Vec<repo::orders::ShippedOrder>, Option<TrackingLink>)> {
    let mut previous = None;
    let mut shipped = Vec::with_capacity(locked.len());
    for order in locked {
        let previous_tracking = match mode {
            ShipMode::ModifyTracking => retire_previous(conn, now, order)?,
            ShipMode::Fulfil => None,
        };
        shipped.push(shipped_order(
            now,
            order,
            details,
            previous_tracking.as_ref(),
        ));
        if previous.is_none() {
            previous = previous_tracking;
        }
    }
    Ok((shipped, previous))
}

/// R4: the tracking being replaced moves into the order's history first.
fn retire_previous(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    order: &Order,
) -> ServiceResult<Option<TrackingLink>> {
    Ok(
        match repo::trackings::retire_current(conn, &order.id, now)? {
            Some(link) => {
                repo::orders::links_with_trackings(conn, std::slice::from_ref(&order.id))?
                    .into_iter()
                    .find(|(l, _)| l.id == link.id)
                    .map(|(link, tracking)| TrackingLink { link, tracking })
            }
            None => None,
        },
    )
}

/// One order's audit details and customer notification.
fn shipped_order(
    now: DateTime<Utc>,
    order: &Order,
    details: &Details<'_>,
    previous_tracking: Option<&TrackingLink>,
) -> repo::orders::ShippedOrder {
    let shipped_late = is_late(order.fulfillment_deadline, now);
    let valid = &details.resolved.valid;
    repo::orders::ShippedOrder {
        order_id: order.id.clone(),
        shipped_late,
        state_before: order.state.clone(),
        details: json!({
            "carrier": valid.carrier,
            "tracking_number": valid.tracking_number,
            "origin_country": details.resolved.origin_country,
            "channel": details.channel,
            "resolved_from": details.resolved.resolved_from,
            "shipped_late": shipped_late,
            "combined_with": details.combined_with,
            "requirement": details.requirement,
            "previous_tracking": previous_tracking.map(|p| json!({
                "carrier": p.tracking.carrier,
                "tracking_number": p.tracking.tracking_number,
            })),
        }),
        // R9: the customer hears the tracking number in the same transaction as the change.
        payload: json!({
            "order_id": order.id,
            "reason": details.kind,
            "carrier": valid.carrier,
            "tracking_number": valid.tracking_number,
        }),
    }
}

/// The shipped orders as answered, in the order the caller asked.
fn answer(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    (locked, new_state): (Vec<Order>, Option<&str>),
    links: &[repo::orders::ShippedLink],
    tracking: &Tracking,
    order_ids: &[String],
) -> ServiceResult<Vec<OrderView>> {
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
            .zip(links)
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
    Ok(views)
}
