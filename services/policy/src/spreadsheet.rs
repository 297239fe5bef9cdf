//! Owns: R7, R8.
//!
//! R8: merchants export their orders as CSV, with these columns (R17 adds the re-release columns
//! for the merchants it concerns). R7: they fill in carrier, tracking number and origin country,
//! one order a row, and upload the file back: an exported file so filled in is a valid upload.
//! One bad row never blocks the others, and nothing is half-applied in a row: each row is applied
//! alone, as `FulfillOrder` or, for an order already shipped, as `ModifyTracking` (R4). Decided
//! here: the columns, what a row applies as, and what becomes of a row whose apply failed. The
//! CSV reading and writing is the orders crate's (`csv_file`).

use crate::order_state::OrderState;

pub const ORDER_ID: &str = "Order ID";
pub const CARRIER: &str = "Carrier";
pub const TRACKING_NUMBER: &str = "Tracking Number";
pub const ORIGIN_COUNTRY: &str = "Origin Country";

/// R8: the export's columns, in order. The four upload columns are among them.
pub const EXPORT_COLUMNS: &[&str] = &[
    ORDER_ID,
    "Released At",
    "Fulfillment Deadline",
    "Days to Fulfill",
    "Hours to Fulfill",
    "Recipient Name",
    "Street Address 1",
    "Street Address 2",
    "City",
    "State/Province",
    "Zipcode",
    "Country",
    "Phone Number",
    "Product ID",
    "Product Name",
    "Quantity",
    "Order State",
    "Is Wish Express",
    "Is A+",
    CARRIER,
    TRACKING_NUMBER,
    ORIGIN_COUNTRY,
];

/// R17: for the merchants of the re-release countries only, after the columns above.
pub const CN_EXPORT_COLUMNS: &[&str] = &[
    "Tracking Number Cancelled",
    "Tracking Number Cancelled Date",
    "Is Re-Released",
    "Order Re-Released Date",
];

/// R7: the columns an upload must have; any other column is ignored, in any order.
pub const REQUIRED_COLUMNS: &[&str] = &[ORDER_ID, CARRIER, TRACKING_NUMBER, ORIGIN_COUNTRY];

/// R8, R17: the header of a merchant's export.
pub fn export_columns(with_rerelease: bool) -> impl Iterator<Item = &'static str> {
    let extra: &[&str] = if with_rerelease {
        CN_EXPORT_COLUMNS
    } else {
        &[]
    };
    EXPORT_COLUMNS.iter().chain(extra).copied()
}

/// What one uploaded row applies as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowApplies {
    /// `FulfillOrder` (R3).
    Fulfil,
    /// `ModifyTracking` (R4): the order was shipped already; the row replaces its tracking.
    ModifyTracking,
}

/// R7: a row for a shipped order replaces its tracking; any other row marks its order shipped
/// (and is refused the way `FulfillOrder` refuses, e.g. for a refunded order).
pub fn row_applies(state: OrderState) -> RowApplies {
    match state {
        OrderState::Shipped => RowApplies::ModifyTracking,
        OrderState::Approved | OrderState::Refunded => RowApplies::Fulfil,
    }
}

/// What becomes of a row whose apply failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFailure {
    /// The row's own fault: rejected with the error's reason and message.
    Rejected,
    /// Ours, and tries are left: the row is tried again.
    Retry,
    /// Ours, on every try: rejected, asking the merchant to upload it again.
    GaveUp,
}

/// R7: a row the caller got wrong is rejected at once; a row that failed for a passing reason of
/// ours is tried `max_attempts` times before it is rejected, so no row stays pending forever and
/// no row is rejected for what was not its fault while tries are left.
pub fn after_failure(rows_fault: bool, attempt: u32, max_attempts: u32) -> RowFailure {
    if rows_fault {
        RowFailure::Rejected
    } else if attempt < max_attempts {
        RowFailure::Retry
    } else {
        RowFailure::GaveUp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_file_filled_in_is_a_valid_upload() {
        for column in REQUIRED_COLUMNS {
            assert!(EXPORT_COLUMNS.contains(column), "{column}");
        }
        let plain: Vec<_> = export_columns(false).collect();
        assert_eq!(plain, EXPORT_COLUMNS);
        let cn: Vec<_> = export_columns(true).collect();
        assert_eq!(cn.len(), EXPORT_COLUMNS.len() + 4);
        assert_eq!(cn.last(), Some(&"Order Re-Released Date"));
    }

    #[test]
    fn a_row_for_a_shipped_order_modifies_its_tracking() {
        assert_eq!(row_applies(OrderState::Shipped), RowApplies::ModifyTracking);
        assert_eq!(row_applies(OrderState::Approved), RowApplies::Fulfil);
        assert_eq!(row_applies(OrderState::Refunded), RowApplies::Fulfil);
    }

    #[test]
    fn only_our_own_failures_are_retried_and_only_while_tries_are_left() {
        assert_eq!(after_failure(true, 1, 3), RowFailure::Rejected);
        assert_eq!(after_failure(true, 3, 3), RowFailure::Rejected);
        assert_eq!(after_failure(false, 1, 3), RowFailure::Retry);
        assert_eq!(after_failure(false, 2, 3), RowFailure::Retry);
        assert_eq!(after_failure(false, 3, 3), RowFailure::GaveUp);
    }
}
