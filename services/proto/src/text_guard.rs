//! Text PostgreSQL cannot store is refused at the edge. PostgreSQL's `text` and `jsonb` refuse
//! the NUL character (U+0000); any other valid UTF-8 (prost has checked that) is stored. A NUL
//! in any string field, at any depth (nested messages, repeated fields, map keys and values),
//! is answered `INVALID_ARGUMENT` with the field's path, instead of failing deep in a
//! transaction as `INTERNAL`.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, Value};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

/// `google.rpc.ErrorInfo.reason` of a refused NUL character.
pub const REASON: &str = "TEXT_HAS_NUL";

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// The descriptor of `full_name` (`fulfillment.v1.FulfillOrderRequest`), if it is ours.
pub fn descriptor(full_name: &str) -> Option<MessageDescriptor> {
    pool()?.get_message_by_name(full_name)
}

/// Refuses `raw` (an encoded `full_name`) if any string in it holds a NUL character.
pub fn check(full_name: &str, raw: &[u8]) -> Result<(), Status> {
    let Some(descriptor) = descriptor(full_name) else {
        return Ok(());
    };
    // A message that does not decode is refused by the decoder right after, with its reason.
    let Ok(message) = DynamicMessage::decode(descriptor, raw) else {
        return Ok(());
    };
    match first_nul(&message, "") {
        None => Ok(()),
        Some(field) => {
            let description = "must not contain the NUL character (U+0000)";
            let mut details = ErrorDetails::new();
            details.set_error_info(
                REASON,
                crate::ERROR_DOMAIN,
                std::collections::HashMap::new(),
            );
            details.add_bad_request_violation(field.clone(), description);
            Err(Status::with_error_details(
                tonic::Code::InvalidArgument,
                format!("{field}: {description}"),
                details,
            ))
        }
    }
}

/// The path of the first string holding a NUL (`events[2].location`, `labels["k"]`).
pub fn first_nul(message: &DynamicMessage, prefix: &str) -> Option<String> {
    for (field, value) in message.fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        if let Some(found) = in_value(value, &path) {
            return Some(found);
        }
    }
    None
}

fn in_value(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        Value::Message(m) => first_nul(m, path),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_value(v, &format!("{path}[{i}]"))),
        Value::Map(entries) => entries.iter().find_map(|(k, v)| match k {
            MapKey::String(key) if key.contains('\0') => Some(path.to_owned()),
            MapKey::String(key) => in_value(v, &format!("{path}[{key:?}]")),
            _ => in_value(v, path),
        }),
        _ => None,
    }
}
