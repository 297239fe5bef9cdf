//! `ExportOrders` (R8, R17): a merchant's orders as CSV, streamed from one query read row by row
//! (libpq's single-row mode), so memory stays flat however many orders the merchant has.

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::PgConnection;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use fulfillment_core::models::Order;
use fulfillment_core::schema::{order_trackings, orders, trackings};
use fulfillment_core::{ServiceError, ServiceResult, Violations, repo};
use fulfillment_policy::deadline::time_left;
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::values::PolicyValues;

use crate::csv_file::CsvChunks;
use crate::input::check_id;
use fulfillment_policy::spreadsheet;

/// Bytes gathered before a chunk is handed to the sink.
pub const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub merchant_id: String,
    /// Empty: every state.
    pub states: Vec<OrderState>,
    pub released_after: Option<DateTime<Utc>>,
    pub released_before: Option<DateTime<Utc>>,
    pub re_released_only: bool,
    pub advanced_logistics_only: bool,
}

/// Checks the filter before anything is streamed, so a bad request fails as a whole. Answers
/// whether the export carries the re-release columns: R17 shows them to merchants of the
/// re-release countries, which are policy values (R30).
pub fn check_filter(
    conn: &mut PgConnection,
    values: &PolicyValues,
    filter: &ExportFilter,
) -> ServiceResult<bool> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", &filter.merchant_id);
    if let (Some(after), Some(before)) = (filter.released_after, filter.released_before)
        && after >= before
    {
        v.add("released_before", "must be later than released_after");
    }
    v.finish("INVALID_FILTER")?;
    let merchant = repo::merchants::find(conn, &filter.merchant_id)?
        .ok_or_else(|| ServiceError::not_found("merchant", &filter.merchant_id))?;
    Ok(values.is_rerelease_country(&merchant.country))
}

fn time(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn yes_no(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// Writes the header and one row per order into `sink`, chunk by chunk. `sink` returns `false`
/// when the reader has gone away; the export then stops. Returns the number of orders written.
pub fn export_orders(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    values: &PolicyValues,
    filter: &ExportFilter,
    mut sink: impl FnMut(Vec<u8>) -> bool,
) -> ServiceResult<u64> {
    let with_rerelease = check_filter(conn, values, filter)?;
    let mut csv = CsvChunks::new(CHUNK_BYTES);
    csv.write(spreadsheet::export_columns(with_rerelease));

    let mut query = orders::table
        .left_join(
            order_trackings::table.on(order_trackings::order_id
                .eq(orders::id)
                .and(order_trackings::is_current)),
        )
        .left_join(trackings::table.on(trackings::id.eq(order_trackings::tracking_id)))
        .filter(orders::merchant_id.eq(&filter.merchant_id))
        .select((
            Order::as_select(),
            trackings::carrier.nullable(),
            trackings::tracking_number.nullable(),
            order_trackings::origin_country.nullable(),
        ))
        .order((orders::released_at, orders::id))
        .into_boxed();
    if !filter.states.is_empty() {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        query = query.filter(orders::state.eq_any(states));
    }
    if let Some(after) = filter.released_after {
        query = query.filter(orders::released_at.ge(after));
    }
    if let Some(before) = filter.released_before {
        query = query.filter(orders::released_at.lt(before));
    }
    if filter.re_released_only {
        query = query.filter(orders::is_re_released);
    }
    if filter.advanced_logistics_only {
        query = query.filter(orders::is_advanced_logistics);
    }

    let mut written = 0u64;
    type Row = (Order, Option<String>, Option<String>, Option<String>);
    for row in query.load_iter::<Row, PgRowByRowLoadingMode>(conn)? {
        let (order, carrier, tracking_number, origin_country) = row?;
        write_order(
            &mut csv,
            now,
            &order,
            [carrier, tracking_number, origin_country],
            with_rerelease,
        );
        written += 1;
        if let Some(chunk) = csv.take_full()
            && !sink(chunk)
        {
            return Ok(written);
        }
    }
    sink(csv.finish());
    Ok(written)
}

fn write_order(
    out: &mut CsvChunks,
    now: DateTime<Utc>,
    order: &Order,
    tracking: [Option<String>; 3],
    with_rerelease: bool,
) {
    let approved = order.state == OrderState::Approved.as_str();
    // R2: time left only counts for an order still waiting to ship.
    let left = approved.then(|| time_left(order.fulfillment_deadline, now));
    let [carrier, tracking_number, origin_country] = tracking;
    let mut fields: Vec<String> = vec![
        order.id.clone(),
        time(order.released_at),
        time(order.fulfillment_deadline),
        left.map_or(String::new(), |l| l.days_to_fulfill.to_string()),
        left.map_or(String::new(), |l| l.hours_to_fulfill.to_string()),
        order.ship_name.clone(),
        order.ship_street_address1.clone(),
        order.ship_street_address2.clone(),
        order.ship_city.clone(),
        order.ship_state.clone(),
        order.ship_zipcode.clone(),
        order.ship_country.clone(),
        order.ship_phone_number.clone(),
        order.product_id.clone(),
        order.product_name.clone(),
        order.quantity.to_string(),
        order.state.clone(),
        yes_no(order.is_wish_express).to_owned(),
        yes_no(order.is_advanced_logistics).to_owned(),
        carrier.unwrap_or_default(),
        tracking_number.unwrap_or_default(),
        origin_country.unwrap_or_default(),
    ];
    if with_rerelease {
        fields.extend([
            yes_no(order.tracking_number_cancelled).to_owned(),
            order
                .tracking_number_cancelled_date
                .map_or(String::new(), time),
            yes_no(order.is_re_released).to_owned(),
            order.order_re_released_date.map_or(String::new(), time),
        ]);
    }
    out.write(fields.iter().map(|f| sanitize(f).into_owned()));
}

/// Spreadsheets run a cell starting with `=`, `+`, `-` or `@` as a formula; names and addresses
/// come from buyers, so such cells get a leading quote (OWASP's CSV injection advice). Values
/// the upload reads back (ids, carriers, tracking numbers, countries) never start so.
fn sanitize(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}
