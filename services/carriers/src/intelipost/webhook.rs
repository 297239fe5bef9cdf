//! The webhook Intelipost POSTs for each new history entry of a volume.
//!
//! The body (see the sources in the `intelipost` module doc) is one object:
//! `{"order_number":"...","tracking_code":"SW123456789BR","volume_number":"1",
//! "invoice":{"invoice_key":"<44 digits>","invoice_number":"1000","invoice_series":"1"},
//! "history":{"shipment_order_volume_id":234,"shipment_order_volume_state":"NEW",
//! "shipment_order_volume_state_history":3597,"event_date":1427143660182,
//! "event_date_iso":"2015-03-23T17:47:40.182-03:00","created":...,"created_iso":...,
//! "provider_message":"Pedido criado","provider_state":"NOVO","esprinter_message":null,
//! "shipment_order_volume_state_localized":"Criado",
//! "shipment_volume_micro_state":{"id":..,"code":..,"default_name":..,"name":..,...}}}`,
//! and per Intelipost's documentation also `sales_order_number`, `tracking_url` and
//! `estimated_delivery_date`. There is no sales channel: R14 makes the channel `wish` a
//! condition of the merchant's event rule in Intelipost, so it is never required.
//!
//! **Lenient where Intelipost varies:** fields we do not read are ignored (a body with extra
//! fields, a `sales_channel` among them, is accepted); optional fields may be missing or
//! null; ids and numbers may be strings or integers; dates may be ISO 8601 (offset with or
//! without a colon) or epoch milliseconds; macro states are matched whatever their case.
//!
//! **Strict where it must be:** the body is a JSON object; `history` is an object with a
//! `shipment_order_volume_state` and a date; a field we identify the tracking by has the
//! right type; and the push names its tracking.
//!
//! **What identifies the tracking:** the NF-e number, `invoice.invoice_number`. It is our
//! tracking number for Intelipost (R12), and the one value whose meaning is the same in
//! Intelipost and here. `tracking_code` is the carrier's number: recorded as a mapping to the
//! NF-e (R12) and, when a push carries no NF-e, resolved through a mapping Intelipost reported
//! before (the service does that); never taken as the tracking by itself, since R12 keeps an
//! unresolved carrier number `PENDING`, never guessed. `order_number` is the shipment order's
//! number in Intelipost, chosen by the merchant's systems: it names nothing in this service
//! and is kept in the raw payload only. A body with neither an NF-e nor a tracking code is
//! refused ([`PushError::Unidentifiable`]).

use std::collections::HashMap;

use fulfillment_policy::tracking_number::{is_nfe_number, normalize_tracking_number};
use serde_json::Value;
use serde_json::value::RawValue;

use super::history::{history_event, scalar_text, text_of, type_name};
use crate::CarrierEvent;

/// What one push tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelipostPush {
    /// Intelipost's shipment order number: informative only (see the module doc).
    pub order_number: Option<String>,
    /// The volume of the shipment order this event is about.
    pub volume_number: Option<String>,
    /// The carrier's tracking code (normalised as R3 says), once the volume has one.
    pub tracking_code: Option<String>,
    /// The NF-e number (digits) of `invoice.invoice_number`: our tracking number for
    /// Intelipost (R12), when the push carries it.
    pub invoice_number: Option<String>,
    pub event: CarrierEvent,
}

/// Why a push body was refused (the HTTP layer answers 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("empty body")]
    Empty,
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("missing field `{0}`")]
    Missing(String),
    #[error("invalid field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error(
        "the push names no tracking: it carries neither the NF-e number (`invoice.invoice_number`) nor the carrier's tracking code (`tracking_code`)"
    )]
    Unidentifiable,
}

impl PushError {
    /// The field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Missing(field) | Self::Invalid { field, .. } => Some(field),
            Self::Unidentifiable => Some("invoice.invoice_number"),
            _ => None,
        }
    }

    pub(super) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The path (`history.provider_message`, `a[1]`) of the first string or key holding a NUL.
fn nul_path(value: &Value, prefix: &str) -> Option<String> {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if prefix.is_empty() {
            "body".to_owned()
        } else {
            prefix.to_owned()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &format!("{prefix}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_path(v, &join(k))
            }
        }),
        _ => None,
    }
}

/// Reads a push body: a JSON object (with no NUL anywhere), the tracking it names, its
/// history entry, then the informative fields.
pub fn parse_push(body: &[u8]) -> Result<IntelipostPush, PushError> {
    let text = object_text(body)?;
    refuse_nul(text)?;
    let fields: HashMap<String, &RawValue> = serde_json::from_str(text).map_err(not_json)?;
    // The identifiers first: the tracking they name is what the push is for.
    let tracking_code = tracking_code(&fields)?;
    let invoice_number = invoice_number(&fields)?;
    if invoice_number.is_none() && tracking_code.is_none() {
        return Err(PushError::Unidentifiable);
    }
    let event = pushed_history(&fields)?;
    Ok(IntelipostPush {
        order_number: informative(&fields, "order_number"),
        volume_number: informative(&fields, "volume_number"),
        tracking_code,
        invoice_number,
        event,
    })
}

fn not_json(error: serde_json::Error) -> PushError {
    PushError::NotJson(error.to_string())
}

/// The body as text, once it is known to be one JSON object.
fn object_text(body: &[u8]) -> Result<&str, PushError> {
    let text = std::str::from_utf8(body).map_err(|_| PushError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(PushError::Empty);
    }
    let whole: &RawValue = serde_json::from_str(text).map_err(not_json)?;
    if !whole.get().trim_start().starts_with('{') {
        return Err(PushError::NotAnObject);
    }
    Ok(text)
}

/// PostgreSQL stores no NUL (U+0000) in text or jsonb, and the raw body is kept: refuse it
/// here, naming where it is, rather than fail the transaction later.
fn refuse_nul(text: &str) -> Result<(), PushError> {
    if text.contains("\\u0000") || text.contains('\0') {
        let value: Value = serde_json::from_str(text).map_err(not_json)?;
        if let Some(field) = nul_path(&value, "") {
            return Err(PushError::invalid(
                &field,
                "must not contain the NUL character (U+0000)",
            ));
        }
    }
    Ok(())
}

/// The carrier's tracking code (R3-normalised), `None` when missing, null or empty.
fn tracking_code(fields: &HashMap<String, &RawValue>) -> Result<Option<String>, PushError> {
    Ok(match value(fields, "tracking_code")? {
        None => None,
        Some(v) => Some(normalize_tracking_number(&text_of(&v, "tracking_code")?)),
    }
    .filter(|t| !t.is_empty()))
}

/// The NF-e number of the `invoice` object, when there is one.
fn invoice_number(fields: &HashMap<String, &RawValue>) -> Result<Option<String>, PushError> {
    match value(fields, "invoice")? {
        None => Ok(None),
        Some(Value::Object(invoice)) => nfe_number(&invoice),
        Some(other) => Err(PushError::invalid(
            "invoice",
            format!("expected an object, got {}", type_name(&other)),
        )),
    }
}

/// The `history` entry, required, as an event.
fn pushed_history(fields: &HashMap<String, &RawValue>) -> Result<CarrierEvent, PushError> {
    let history = fields
        .get("history")
        .copied()
        .filter(|raw| raw.get().trim() != "null")
        .ok_or_else(|| PushError::Missing("history".into()))?;
    history_event(history, "history")
}

/// An informative field: read when it is text or a number, else left out.
fn informative(fields: &HashMap<String, &RawValue>, name: &str) -> Option<String> {
    value(fields, name)
        .ok()
        .flatten()
        .as_ref()
        .and_then(scalar_text)
        .filter(|t| !t.is_empty())
}

/// R12: the NF-e number of an `invoice` object, normalised as R3 says (Intelipost sends it
/// as a string or an integer); `None` when it is missing, null or empty.
fn nfe_number(invoice: &serde_json::Map<String, Value>) -> Result<Option<String>, PushError> {
    const FIELD: &str = "invoice.invoice_number";
    let Some(v) = invoice.get("invoice_number").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let number = normalize_tracking_number(&text_of(v, FIELD)?);
    if number.is_empty() {
        return Ok(None);
    }
    if !is_nfe_number(&number) {
        return Err(PushError::invalid(
            FIELD,
            "expected the NF-e number, digits only",
        ));
    }
    Ok(Some(number))
}

fn value(fields: &HashMap<String, &RawValue>, name: &str) -> Result<Option<Value>, PushError> {
    match fields.get(name) {
        None => Ok(None),
        Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::Null) => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(PushError::invalid(name, e.to_string())),
        },
    }
}
