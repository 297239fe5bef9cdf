//! The reads of one tracking: by key or by order, with its checkpoints and its orders.

use diesel::PgConnection;
use fulfillment_core::input::require_merchant;
use fulfillment_core::models::{Tracking, TrackingEvent};
use fulfillment_core::{ServiceError, ServiceResult, repo};

/// A tracking with its checkpoints and the orders on it.
#[derive(Debug, Clone)]
pub struct TrackingDetail {
    pub tracking: Tracking,
    pub events: Vec<TrackingEvent>,
    pub order_ids: Vec<String>,
}

pub fn detail(conn: &mut PgConnection, tracking_id: i64) -> ServiceResult<TrackingDetail> {
    let tracking = repo::trackings::find_by_id(conn, tracking_id)?
        .ok_or_else(|| ServiceError::not_found("tracking", tracking_id.to_string()))?;
    let events = repo::tracking_events::for_tracking(conn, tracking_id)?;
    let order_ids = repo::trackings::current_orders(conn, tracking_id)?
        .into_iter()
        .map(|o| o.id)
        .collect();
    Ok(TrackingDetail {
        tracking,
        events,
        order_ids,
    })
}

/// How GetTracking finds a tracking.
#[derive(Debug, Clone)]
pub enum Lookup {
    Key {
        carrier: String,
        tracking_number: String,
    },
    Order(String),
}

/// A tracking by key or by order; `merchant_id` (when not empty) must own it, or it is
/// NOT_FOUND like one that does not exist.
pub fn get_tracking(
    conn: &mut PgConnection,
    merchant_id: &str,
    lookup: &Lookup,
) -> ServiceResult<TrackingDetail> {
    if !merchant_id.is_empty() {
        require_merchant(conn, merchant_id)?;
    }
    let (tracking, what) = match lookup {
        Lookup::Key {
            carrier,
            tracking_number,
        } => (
            repo::trackings::find(conn, carrier, tracking_number)?,
            format!("{carrier} {tracking_number}"),
        ),
        Lookup::Order(order_id) => {
            let owned = merchant_id.is_empty()
                || repo::orders::find(conn, merchant_id, order_id)?.is_some();
            let tracking = if owned {
                repo::trackings::current_for_order(conn, order_id)?
            } else {
                None
            };
            (tracking, format!("for order {order_id}"))
        }
    };
    match tracking {
        Some(t) if merchant_id.is_empty() || t.merchant_id == merchant_id => detail(conn, t.id),
        _ => Err(ServiceError::not_found("tracking", what)),
    }
}
