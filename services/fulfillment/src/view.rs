//! An order with its trackings and the values derived from the rules (R2, R6), as every read
//! returns it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::ServiceResult;
use fulfillment_core::models::{Order, OrderTracking, Tracking};
use fulfillment_core::repo;
use fulfillment_policy::deadline::{TimeLeft, is_overdue, time_left};
use fulfillment_policy::eligibility::{PaymentEligibility, payment_eligibility};
use fulfillment_policy::order_state::OrderState;

/// One of an order's trackings.
#[derive(Debug, Clone)]
pub struct TrackingLink {
    pub link: OrderTracking,
    pub tracking: Tracking,
}

impl TrackingLink {
    /// The tracking's first real scan, unless a cancellation removed it for this order (R15).
    pub fn confirmed_fulfillment_at(&self) -> Option<DateTime<Utc>> {
        if self.link.confirmed_removed_at.is_some() {
            None
        } else {
            self.tracking.confirmed_fulfillment_at
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrderView {
    pub order: Order,
    pub current: Option<TrackingLink>,
    /// Earlier trackings, oldest first (R4).
    pub history: Vec<TrackingLink>,
    pub time_left: TimeLeft,
    /// Still waiting to ship after its deadline: the deadline worker will refund it (R5).
    pub overdue: bool,
    pub payment: PaymentEligibility,
}

impl OrderView {
    pub fn state(&self) -> OrderState {
        self.order.state.parse().unwrap_or(OrderState::Approved)
    }

    /// The view of an order with all its links (current and earlier).
    pub fn new(order: Order, links: Vec<TrackingLink>, now: DateTime<Utc>) -> Self {
        let (current, history): (Vec<_>, Vec<_>) =
            links.into_iter().partition(|l| l.link.is_current);
        let current = current.into_iter().next();
        let state = order.state.parse().unwrap_or(OrderState::Approved);
        // R2: time left only counts for an order still waiting to ship.
        let time_left = if state == OrderState::Approved {
            time_left(order.fulfillment_deadline, now)
        } else {
            TimeLeft {
                days_to_fulfill: 0,
                hours_to_fulfill: 0,
            }
        };
        let overdue = is_overdue(state, order.fulfillment_deadline, now);
        let payment = payment_eligibility(
            state,
            current.is_some(),
            current
                .as_ref()
                .and_then(TrackingLink::confirmed_fulfillment_at),
        );
        Self {
            order,
            current,
            history,
            time_left,
            overdue,
            payment,
        }
    }
}

/// Builds views for these orders with one query for all their trackings, keeping their order.
pub fn load_views(
    conn: &mut PgConnection,
    orders: Vec<Order>,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<OrderView>> {
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut links: HashMap<String, Vec<TrackingLink>> = HashMap::new();
    for (link, tracking) in repo::orders::links_with_trackings(conn, &ids)? {
        links
            .entry(link.order_id.clone())
            .or_default()
            .push(TrackingLink { link, tracking });
    }
    Ok(orders
        .into_iter()
        .map(|order| {
            let order_links = links.remove(&order.id).unwrap_or_default();
            OrderView::new(order, order_links, now)
        })
        .collect())
}

pub fn load_view(
    conn: &mut PgConnection,
    order: Order,
    now: DateTime<Utc>,
) -> ServiceResult<OrderView> {
    let mut views = load_views(conn, vec![order], now)?;
    views
        .pop()
        .ok_or_else(|| fulfillment_core::ServiceError::internal("order view vanished"))
}
