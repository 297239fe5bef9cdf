//! ShipX's error answers: the status and error key mapped to ours, `details` flattened into
//! our request's fields.

use serde::Deserialize;
use serde_json::Value;

use super::super::{DispatchError, FieldError, common_status, unexpected};
use crate::error::excerpt;
use crate::http::Answer;

#[derive(Debug, Deserialize)]
struct ErrorWire {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<Value>,
}

/// 2xx is fine; the rest is read as ShipX documents it.
pub(super) fn check(answer: &Answer) -> Result<(), DispatchError> {
    if answer.status.is_success() {
        return Ok(());
    }
    if let Some(err) = common_status(answer) {
        return Err(err);
    }
    let wire: Option<ErrorWire> = std::str::from_utf8(&answer.body)
        .ok()
        .and_then(|t| serde_json::from_str(t).ok());
    let Some(wire) = wire else {
        return Err(unexpected(answer));
    };
    let code = wire.error.unwrap_or_default();
    let message = wire
        .message
        .map(|m| excerpt(m.as_bytes()))
        .unwrap_or_default();
    match (answer.status.as_u16(), code.as_str()) {
        (_, "token_invalid" | "unauthorized" | "access_forbidden") => {
            Err(DispatchError::CredentialsRejected)
        }
        (400 | 422, "validation_failed") | (422, _) => {
            let mut errors = Vec::new();
            if let Some(details) = &wire.details {
                flatten("", details, &mut errors);
            }
            if errors.is_empty() {
                errors.push(FieldError::new("shipment", message));
            }
            Err(DispatchError::Validation(errors))
        }
        (404, _) => Err(DispatchError::NotFound),
        (_, "") => Err(unexpected(answer)),
        _ => Err(DispatchError::Carrier { code, message }),
    }
}

/// ShipX `details` as field errors: keys joined with `.`, error keys as the message. Array
/// positions (`"parcels": [{"0": {...}}]`) are not part of the path, and the batch wrapper
/// (`"shipments": [{"<id>": {...}}]`, as sylapi/courier-inpost's recorded 400 has it) is
/// dropped, so both read as the single shipment's attributes.
pub(super) fn flatten(prefix: &str, value: &Value, out: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if key.bytes().all(|b| b.is_ascii_digit()) {
                    prefix.to_owned()
                } else if prefix == "shipments" {
                    String::new()
                } else if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let message = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            out.push(FieldError::new(our_field(prefix), message));
        }
        Value::Array(items) => {
            for item in items {
                flatten(prefix, item, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push(FieldError::new(our_field(prefix), s.clone())),
        other => out.push(FieldError::new(our_field(prefix), other.to_string())),
    }
}

/// A ShipX attribute path in our request's terms.
fn our_field(shipx: &str) -> String {
    let known = [
        ("receiver.first_name", "receiver.name"),
        ("receiver.last_name", "receiver.name"),
        ("receiver.company_name", "receiver.name"),
        ("receiver.email", "receiver.email"),
        ("receiver.phone", "receiver.phone"),
        ("receiver.address.street", "receiver.street"),
        ("receiver.address.building_number", "receiver.building"),
        ("receiver.address.city", "receiver.city"),
        ("receiver.address.post_code", "receiver.postal_code"),
        ("receiver.address.country_code", "receiver.country_code"),
        ("custom_attributes.target_point", "target_point"),
        ("custom_attributes.dropoff_point", "sending_locker"),
        ("parcels.template", "parcel.size"),
        ("parcels.weight", "parcel.weight_grams"),
        ("parcels.weight.amount", "parcel.weight_grams"),
        ("parcels.dimensions", "parcel.size"),
        ("parcels.dimensions.width", "parcel.size"),
        ("parcels.dimensions.length", "parcel.size"),
        ("parcels.dimensions.height", "parcel.size"),
        ("cod", "cod.amount_minor"),
        ("cod.amount", "cod.amount_minor"),
        ("cod.currency", "cod.currency"),
        ("reference", "reference"),
    ];
    known
        .iter()
        .find(|(from, _)| *from == shipx)
        .map(|(_, to)| (*to).to_owned())
        .unwrap_or_else(|| {
            if shipx.is_empty() {
                "shipment".to_owned()
            } else {
                shipx.to_owned()
            }
        })
}
