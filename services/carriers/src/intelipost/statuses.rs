//! Intelipost's macro states and what they are for us (R21).

use super::CODE;
use crate::TrackingStatus;

/// Intelipost's macro states (`shipment_order_volume_state`), in the order a volume lives
/// them.
pub const MACRO_STATES: [&str; 9] = [
    "NEW",
    "READY_FOR_SHIPPING",
    "SHIPPED",
    "IN_TRANSIT",
    "TO_BE_DELIVERED",
    "DELIVERED",
    "CLARIFY_DELIVERY_FAIL",
    "DELIVERY_FAILED",
    "CANCELLED",
];

/// What an unknown macro state is read as: `INFO_RECEIVED`. Not a scan (R6, R21: it would
/// confirm fulfilment and make the order payable on a word we do not know), not `CANCELLED`,
/// not final (pushes and polls go on, and the next known state sets the status). The event is
/// still stored with Intelipost's raw code and text (R21), logged once per state and counted
/// ([`crate::normalize::unknown_status`]) so it can be seen and added here.
pub const UNKNOWN_STATE_READ_AS: TrackingStatus = TrackingStatus::InfoReceived;

/// A macro state mapped to ours (R21). Intelipost's own modules split the states into
/// pre-dispatch (the carrier does not have the parcel) and post-dispatch; only the latter
/// can be a scan.
///
/// | macro state | Intelipost's meaning | ours | why |
/// |---|---|---|---|
/// | `NEW` | shipment order created ("Criado") | `INFO_RECEIVED` | pre-dispatch |
/// | `READY_FOR_SHIPPING` | packed, ready to ship ("Pronto para envio") | `INFO_RECEIVED` | pre-dispatch |
/// | `SHIPPED` | marked shipped by the shipper ("Despachado", `POST /shipment_order/shipped`) | `INFO_RECEIVED` | pre-dispatch: the merchant's word, not the carrier's scan (R6) |
/// | `IN_TRANSIT` | with the carrier, moving ("Em trânsito") | `IN_TRANSIT` | the first real scan |
/// | `TO_BE_DELIVERED` | out for delivery ("Saiu para entrega") | `OUT_FOR_DELIVERY` | |
/// | `DELIVERED` | delivered ("Entregue") | `DELIVERED` | |
/// | `CLARIFY_DELIVERY_FAIL` | a delivery problem being clarified with the carrier | `EXCEPTION` | the micro state says which problem (absent, damaged, lost…); not read as a scan until it is clear |
/// | `DELIVERY_FAILED` | delivery failed for good ("Falha na entrega") | `EXCEPTION` | |
/// | `CANCELLED` | shipment order cancelled ("Cancelado") | `CANCELLED` | |
/// | anything else | | [`UNKNOWN_STATE_READ_AS`] | |
///
/// Intelipost's states are matched without regard to case or surrounding spaces (its own
/// Magento module upper-cases them before matching).
pub fn normalize(state: &str) -> TrackingStatus {
    known_state(state).unwrap_or_else(|| read_unknown(state.trim(), ""))
}

/// An unknown macro state (R21): counted, logged once per state with Intelipost's words
/// ([`crate::normalize::unknown_status`]), read as [`UNKNOWN_STATE_READ_AS`].
pub(super) fn read_unknown(state: &str, text: &str) -> TrackingStatus {
    crate::normalize::unknown_status(CODE, state, text, UNKNOWN_STATE_READ_AS)
}

/// The table above; `None` for a state it does not have.
pub(super) fn known_state(state: &str) -> Option<TrackingStatus> {
    use TrackingStatus::*;
    Some(match state.trim().to_ascii_uppercase().as_str() {
        "NEW" | "READY_FOR_SHIPPING" | "SHIPPED" => InfoReceived,
        "IN_TRANSIT" => InTransit,
        "TO_BE_DELIVERED" => OutForDelivery,
        "DELIVERED" => Delivered,
        "CLARIFY_DELIVERY_FAIL" | "DELIVERY_FAILED" => Exception,
        "CANCELLED" => Cancelled,
        _ => return None,
    })
}
