//! One history entry of a volume, pushed or polled, read the same way both times (so both
//! give the same event id and R22 keeps one), and the JSON readings the push shares with it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use serde_json::value::RawValue;

use super::webhook::PushError;
use super::{known_state, read_unknown};
use crate::CarrierEvent;

/// One history entry (pushed or polled) as an event; `at` names it in errors.
pub(super) fn history_event(raw: &RawValue, at: &str) -> Result<CarrierEvent, PushError> {
    let map = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            return Err(PushError::invalid(
                at,
                format!("expected an object, got {}", type_name(&other)),
            ));
        }
        Err(e) => return Err(PushError::invalid(at, e.to_string())),
    };
    let field = |name: &str| format!("{at}.{name}");
    let get = |name: &str| map.get(name).filter(|v| !v.is_null());

    let state = match get("shipment_order_volume_state") {
        None => return Err(PushError::Missing(field("shipment_order_volume_state"))),
        Some(v) => text_of(v, &field("shipment_order_volume_state"))?,
    };
    if state.is_empty() {
        return Err(PushError::invalid(
            &field("shipment_order_volume_state"),
            "empty",
        ));
    }
    let occurred_at = occurred_at(&map, at)?;
    let event_id = match get("shipment_order_volume_state_history").or_else(|| get("id")) {
        None => None,
        Some(v) => Some(text_of(v, &field("shipment_order_volume_state_history"))?),
    };
    let micro = get("shipment_volume_micro_state").and_then(Value::as_object);
    let micro_text = |key: &str| {
        micro
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let plain = |key: &str| {
        get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    // The carrier's words (R21): the micro state's name is the most precise, then the
    // localized macro state, then the carrier's own message.
    let text = micro_text("name")
        .or_else(|| micro_text("default_name"))
        .or_else(|| plain("shipment_order_volume_state_localized"))
        .or_else(|| plain("provider_message"))
        .unwrap_or_default()
        .to_owned();
    let status = known_state(&state).unwrap_or_else(|| read_unknown(&state, &text));
    Ok(CarrierEvent {
        event_id: event_id.filter(|id| !id.is_empty()),
        occurred_at,
        status,
        carrier_status_code: state,
        carrier_status_text: text,
        location: location(get("location")),
        raw_payload: raw.get().to_owned(),
    })
}

/// When it happened at the carrier (`event_date_iso`, else `event_date`), else when
/// Intelipost recorded it (`created_iso`, else `created`). The `_iso` fields are ISO 8601
/// with an offset; the others epoch milliseconds (Intelipost's SDKs read them so), though
/// an ISO text there is read too.
fn occurred_at(map: &serde_json::Map<String, Value>, at: &str) -> Result<DateTime<Utc>, PushError> {
    for name in ["event_date_iso", "event_date", "created_iso", "created"] {
        let Some(v) = map.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let field = format!("{at}.{name}");
        return match v {
            Value::Number(n) => n
                .as_i64()
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .ok_or_else(|| PushError::invalid(&field, "expected epoch milliseconds")),
            Value::String(s) => parse_date(s.trim()).ok_or_else(|| {
                PushError::invalid(&field, format!("not an ISO 8601 date-time: {s:?}"))
            }),
            other => Err(PushError::invalid(
                &field,
                format!("expected a date-time, got {}", type_name(other)),
            )),
        };
    }
    Err(PushError::Missing(format!("{at}.event_date_iso")))
}

/// ISO 8601 with an offset (`-03:00` or `-0300`), or epoch milliseconds written as text.
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn location(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Object(m)) => ["city", "state_code", "state"]
            .iter()
            .filter_map(|k| m.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(2)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// A string, or an integer written as text (Intelipost sends ids and numbers either way).
pub(super) fn text_of(value: &Value, field: &str) -> Result<String, PushError> {
    scalar_text(value).ok_or_else(|| {
        PushError::invalid(
            field,
            format!("expected a string, got {}", type_name(value)),
        )
    })
}

pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
