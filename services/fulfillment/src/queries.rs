//! Reads: one order, many orders, and a merchant's orders to fulfil.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};

use crate::view::{OrderView, load_view, load_views};
use fulfillment_core::input::{check_id, require_merchant};
use fulfillment_core::paging::{self, KeysetPage};

pub const MAX_BATCH_GET: usize = 500;

pub fn get_order(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    order_id: &str,
) -> ServiceResult<OrderView> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    check_id(&mut v, "order_id", order_id);
    v.finish("INVALID_REQUEST")?;
    require_merchant(conn, merchant_id)?;
    // Another merchant's order is NOT_FOUND, exactly like one that does not exist.
    let order = repo::orders::find(conn, merchant_id, order_id)?
        .ok_or_else(|| ServiceError::not_found("order", order_id))?;
    load_view(conn, order, now)
}

/// Orders found (in the order asked) and the ids not found.
pub fn batch_get_orders(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    order_ids: &[String],
) -> ServiceResult<(Vec<OrderView>, Vec<String>)> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    if order_ids.is_empty() {
        v.add("order_ids", "is required");
    } else if order_ids.len() > MAX_BATCH_GET {
        v.add("order_ids", format!("at most {MAX_BATCH_GET} ids per call"));
    }
    for id in order_ids {
        check_id(&mut v, "order_ids", id);
    }
    v.finish("INVALID_REQUEST")?;
    require_merchant(conn, merchant_id)?;
    let orders = repo::orders::find_many(conn, merchant_id, order_ids)?;
    let mut views = load_views(conn, orders, now)?;
    views.sort_by_key(|view| order_ids.iter().position(|id| *id == view.order.id));
    let missing = order_ids
        .iter()
        .filter(|id| !views.iter().any(|view| &view.order.id == *id))
        .cloned()
        .collect();
    Ok((views, missing))
}

// The keyset page token moved to `fulfillment_core::paging` (tracking's lists use it too).
pub use fulfillment_core::paging::{decode_page_token, encode_page_token};

/// A page of a merchant's APPROVED orders, oldest deadline first, and the next page's token.
pub fn list_orders_to_fulfill(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    page_size: i32,
    page_token: &str,
) -> ServiceResult<(Vec<OrderView>, String)> {
    let KeysetPage { size, after } =
        KeysetPage::of_merchant(conn, merchant_id, page_size, page_token)?;
    // One extra row tells whether another page exists.
    let rows = repo::orders::list_to_fulfill(conn, merchant_id, after, size + 1)?;
    let (orders, has_more) = paging::take_page(rows, size);
    let next = match (has_more, orders.last()) {
        (true, Some(last)) => encode_page_token(last.fulfillment_deadline, &last.id),
        _ => String::new(),
    };
    Ok((load_views(conn, orders, now)?, next))
}
