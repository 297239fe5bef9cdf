//! A merchant's stuck trackings (R12, R13): shipped, not yet scanned, with the reason why.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::prelude::*;
use fulfillment_core::ServiceResult;
use fulfillment_core::paging::{self, KeysetPage};
use fulfillment_core::schema::{intelipost_integrations, order_trackings, orders, trackings};
use fulfillment_policy::stuck::{Stuck, stuck_reason};

// R12, R13: the rules live in `fulfillment-policy`; re-exported so callers keep one name.
pub use fulfillment_policy::stuck::StuckReason;
pub use fulfillment_policy::tracking_number::is_unresolved_intelipost;

#[derive(Debug, Clone)]
pub struct StuckTracking {
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
    pub status: String,
    pub reason: StuckReason,
    pub message: String,
}

/// A page of a merchant's shipped orders whose tracking has no scan yet (so no confirmed
/// fulfilment, R6), oldest shipment first, with the reason (R12, R13).
pub fn list_stuck(
    conn: &mut PgConnection,
    merchant_id: &str,
    page_size: i32,
    page_token: &str,
) -> ServiceResult<(Vec<StuckTracking>, String)> {
    let KeysetPage { size, after } =
        KeysetPage::of_merchant(conn, merchant_id, page_size, page_token)?;

    let connected = intelipost_integrations::table
        .find(merchant_id)
        .select(intelipost_integrations::connected)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false);
    let mut query = order_trackings::table
        .inner_join(orders::table)
        .inner_join(trackings::table)
        .filter(orders::merchant_id.eq(merchant_id))
        .filter(orders::state.eq("SHIPPED"))
        .filter(order_trackings::is_current.eq(true))
        .filter(trackings::confirmed_fulfillment_at.is_null())
        .filter(trackings::cancelled_at.is_null())
        .select((
            order_trackings::order_id,
            trackings::carrier,
            trackings::tracking_number,
            order_trackings::shipped_at,
            trackings::status,
        ))
        .order((
            order_trackings::shipped_at.asc(),
            order_trackings::order_id.asc(),
        ))
        .limit(size + 1)
        .into_boxed();
    if let Some((shipped_at, order_id)) = after {
        query = query.filter(
            order_trackings::shipped_at
                .gt(shipped_at)
                .or(order_trackings::shipped_at
                    .eq(shipped_at)
                    .and(order_trackings::order_id.gt(order_id))),
        );
    }
    let rows: Vec<(String, String, String, DateTime<Utc>, String)> = query.load(conn)?;
    let (rows, has_more) = paging::take_page(rows, size);
    let next = match (has_more, rows.last()) {
        (true, Some((order_id, _, _, shipped_at, _))) => {
            paging::encode_page_token(*shipped_at, order_id)
        }
        _ => String::new(),
    };
    let stuck = rows
        .into_iter()
        .map(|(order_id, carrier, tracking_number, shipped_at, status)| {
            let Stuck { reason, message } =
                stuck_reason(&carrier, &tracking_number, &status, connected);
            StuckTracking {
                order_id,
                carrier,
                tracking_number,
                shipped_at,
                status,
                reason,
                message,
            }
        })
        .collect();
    Ok((stuck, next))
}
