//! A CreateShipments request: its checks (R19) and what the carrier gets of it for one order.

use fulfillment_carriers::dispatch::ShipmentRequest;
use fulfillment_core::input::check_id;
use fulfillment_core::models::Address;
use fulfillment_core::repo::shipments::ShipmentRow;
use fulfillment_core::{ServiceError, ServiceResult, Violations};
use fulfillment_orders::input::{check_address, check_order_ids};

use super::carrier::contact;
use super::{CreateShipments, DEFAULT_ORIGIN_COUNTRY, MAX_ORDERS_PER_CALL, ShipmentType};

pub(super) fn validate(req: &CreateShipments) -> ServiceResult<()> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", &req.merchant_id);
    check_id(&mut v, "account_id", &req.account_id);
    let limit = (MAX_ORDERS_PER_CALL, "call");
    let sorted = check_order_ids(&mut v, "order_ids", &req.order_ids, limit);
    v.optional_text("size", &req.size, 16);
    if req.weight_grams > 1_000_000 {
        v.add("weight_grams", "must be at most 1000000 (1 t)");
    }
    if req.shipment_type.is_none() {
        v.add("shipment_type", "must be a known shipment type");
    }
    for (order_id, point) in &req.target_points {
        if sorted.binary_search(order_id).is_err() {
            v.add(
                "target_points",
                format!("{order_id:?} is not one of order_ids"),
            );
        }
        v.text("target_points", point, 64);
    }
    if let Some(sender) = &req.sender {
        check_address(&mut v, "sender", sender);
    }
    v.optional_text("sender_email", &req.sender_email, 200);
    v.finish("INVALID_SHIPMENT_REQUEST")?;
    if req.shipment_type.is_some_and(|t| !t.is_tracked()) {
        return Err(ServiceError::invalid(
            "UNREGISTERED_LETTER_NOT_SUPPORTED",
            "shipment_type",
            "R19: unregistered letters are not supported: they have no tracking number to \
             attach to the order; send a registered letter or a parcel",
        ));
    }
    Ok(())
}

/// The request the carrier gets for one order.
pub(super) fn shipment_request(
    req: &CreateShipments,
    shipment: &ShipmentRow,
    receiver: &Address,
) -> ShipmentRequest {
    let mut out = ShipmentRequest::new(
        shipment.reference.clone(),
        contact(receiver, ""),
        req.shipment_type.unwrap_or(ShipmentType::Parcel),
    );
    out.parcel.size = Some(req.size.trim().to_owned()).filter(|s| !s.is_empty());
    out.parcel.weight_grams = Some(req.weight_grams).filter(|w| *w > 0);
    out.target_point = req.target_points.get(&shipment.order_id).cloned();
    out.sender = req.sender.as_ref().map(|s| contact(s, &req.sender_email));
    out
}

pub(super) fn origin_country(req: &CreateShipments) -> String {
    req.sender
        .as_ref()
        .map(|s| s.country.trim().to_uppercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_ORIGIN_COUNTRY.to_owned())
}
