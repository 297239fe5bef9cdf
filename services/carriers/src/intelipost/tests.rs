use super::client::invoice_key;
use super::*;
use crate::TrackingStatus;
use TrackingStatus::*;

// One test per macro state, named by what Intelipost says it means (R21).

#[test]
fn new_shipment_order_created_is_info_received() {
    assert_eq!(normalize("NEW"), InfoReceived);
}

#[test]
fn ready_for_shipping_packed_not_handed_over_is_info_received() {
    assert_eq!(normalize("READY_FOR_SHIPPING"), InfoReceived);
}

#[test]
fn shipped_marked_shipped_by_the_merchant_is_not_a_carrier_scan() {
    // R6: the shipper's own `shipment_order/shipped` call, not the carrier's scan.
    assert_eq!(normalize("SHIPPED"), InfoReceived);
    assert!(!normalize("SHIPPED").is_scan());
}

#[test]
fn in_transit_with_the_carrier_is_the_first_scan() {
    assert_eq!(normalize("IN_TRANSIT"), InTransit);
    assert!(normalize("IN_TRANSIT").is_scan());
}

#[test]
fn to_be_delivered_out_for_delivery() {
    assert_eq!(normalize("TO_BE_DELIVERED"), OutForDelivery);
}

#[test]
fn delivered_is_delivered() {
    assert_eq!(normalize("DELIVERED"), Delivered);
}

#[test]
fn clarify_delivery_fail_a_problem_being_clarified_is_an_exception_not_a_scan() {
    assert_eq!(normalize("CLARIFY_DELIVERY_FAIL"), Exception);
    assert!(!normalize("CLARIFY_DELIVERY_FAIL").is_scan());
}

#[test]
fn delivery_failed_for_good_is_an_exception() {
    assert_eq!(normalize("DELIVERY_FAILED"), Exception);
}

#[test]
fn cancelled_shipment_order_is_cancelled() {
    assert_eq!(normalize("CANCELLED"), Cancelled);
}

#[test]
fn every_documented_macro_state_has_a_row() {
    for state in MACRO_STATES {
        assert!(known_state(state).is_some(), "{state}");
        // Intelipost's Magento module upper-cases states before matching; so do we.
        assert_eq!(known_state(&state.to_ascii_lowercase()), known_state(state));
    }
}

#[test]
fn an_unknown_state_is_read_safely_never_a_scan_nor_final_and_counted() {
    let before = crate::normalize::unknown_status_count(CODE, "TELEPORTED_BY_TEST");
    let status = normalize("TELEPORTED_BY_TEST");
    assert_eq!(status, UNKNOWN_STATE_READ_AS);
    assert!(!status.is_scan() && !status.is_final() && status != Cancelled);
    assert_eq!(
        crate::normalize::unknown_status_count(CODE, "TELEPORTED_BY_TEST"),
        before + 1
    );
}

#[test]
fn invoice_numbers_compare_without_leading_zeros() {
    assert_eq!(invoice_key("000123"), "123");
    assert_eq!(invoice_key("123"), "123");
    assert_eq!(invoice_key("000"), "0");
}
