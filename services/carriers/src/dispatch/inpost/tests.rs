use serde_json::{Value, json};

use super::answer::flatten;
use super::*;

/// `flatten` of `details`, as (field, message) pairs, handed to `check`.
fn with_pairs(details: &Value, check: impl FnOnce(&[(&str, &str)])) {
    let mut errors = Vec::new();
    flatten("", details, &mut errors);
    let pairs: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    check(&pairs);
}

#[test]
fn details_are_flattened_into_our_fields() {
    let details = json!({
        "receiver": {"phone": ["invalid"], "address": {"post_code": ["invalid_format", "required"]}},
        "custom_attributes": [{"target_point": ["does_not_exist"]}],
        "parcels": [{"template": ["invalid"]}],
        "insurance": ["required"],
    });
    with_pairs(&details, |pairs| {
        assert!(pairs.contains(&("receiver.phone", "invalid")), "{pairs:?}");
        assert!(
            pairs.contains(&("receiver.postal_code", "invalid_format, required")),
            "{pairs:?}"
        );
        assert!(
            pairs.contains(&("target_point", "does_not_exist")),
            "{pairs:?}"
        );
        assert!(pairs.contains(&("parcel.size", "invalid")), "{pairs:?}");
        assert!(pairs.contains(&("insurance", "required")), "{pairs:?}");
    });
}

#[test]
fn batch_details_with_array_positions_read_as_the_shipments_fields() {
    // The nesting of sylapi/courier-inpost's recorded 400 (values ours).
    let details = json!({"shipments": [{"SHIPMENT1": {
        "insurance": [{"amount": ["too_small"]}],
        "parcels": [{"0": {"dimensions": [{"width": ["too_small"]}], "weight": [{"amount": ["too_small"]}]}}],
    }}]});
    with_pairs(&details, |pairs| {
        assert_eq!(
            pairs,
            [
                ("insurance.amount", "too_small"),
                ("parcel.size", "too_small"),
                ("parcel.weight_grams", "too_small"),
            ]
        );
    });
}

#[test]
fn ids_may_be_numbers_or_strings() {
    let wire: ShipmentWire =
        serde_json::from_str(r#"{"id": 123, "tracking_number": null}"#).unwrap();
    assert_eq!(wire.id_string().unwrap(), "123");
    assert_eq!(
        created("123", wire),
        Err(DispatchError::Pending {
            carrier_shipment_id: "123".into()
        })
    );
    let wire: ShipmentWire = serde_json::from_str(r#"{"id": null}"#).unwrap();
    assert!(wire.id_string().is_err());
}
