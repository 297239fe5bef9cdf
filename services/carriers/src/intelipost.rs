//! Intelipost (BR): a TMS that tracks shipments across Brazilian carriers and reports each
//! volume's history in its own macro states.
//!
//! Our tracking number for Intelipost is the NF-e (invoice) number, digits only: that is what
//! the merchant knows when it ships. The polling client looks the shipment order up by it,
//! `GET {base}/api/v1/shipment_order/invoice/{invoice_number}` with the `api-key` header, which
//! answers the same envelope as `GET /api/v1/shipment_order/{order_number}`:
//! `{"status":"OK","messages":[],"content":...}` where `content` is the shipment order (or a
//! list of them), whose `shipment_order_volume_array[]` carries
//! `shipment_order_volume_invoice.invoice_number` and
//! `shipment_order_volume_state_history_array[]`. Only the volumes of our invoice are read
//! (all of them when no volume names an invoice). Errors are
//! `{"status":"ERROR","messages":[{"type":"ERROR","text":...,"key":...}]}`.
//!
//! Intelipost also pushes each new history entry to a webhook (an event rule with "all macro
//! events"): [`webhook::parse_push`] reads that body. Both paths read a history entry the same
//! way, so a pushed event and the same event polled later have the same id
//! (`shipment_order_volume_state_history`) and R22 keeps one.
//!
//! Sources: the webhook body as published in Intelipost's PHP SDK
//! (`magentando/sdk-php`, `Intelipost/IntelipostModel/webhook.php` and `webhook_history.php`,
//! written by Intelipost staff) and a full sample in the README of a public receiver
//! (`history`, `invoice`, `order_number`, `tracking_code`, `estimated_delivery_date`); the
//! `shipment_order` answer and the `shipment_order/invoice/{number}` lookup as used by public
//! clients of `https://api.intelipost.com.br/api/v1/`. Intelipost's own reference
//! (<https://docs.intelipost.com.br/>) was not reachable from here: `sales_channel` in the push
//! and the `ERROR` key for an unknown order (`shipmentOrder.notFound` in the fixtures) follow
//! the brief, not a verified sample.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};
use crate::http::{self, parse_json, path_segment};
use crate::{TrackReport, TrackingClient, TrackingStatus};

pub use webhook::{IntelipostPush, PushError, parse_push};

/// Our carrier code.
pub const CODE: &str = "intelipost";
/// Header carrying the Intelipost API key.
pub const API_KEY_HEADER: &str = "api-key";

/// Intelipost's macro states.
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

/// A macro state mapped to ours.
///
/// NEW and READY_FOR_SHIPPING are before the carrier has the parcel (`InfoReceived`);
/// TO_BE_DELIVERED is "saiu para entrega" (`OutForDelivery`); CLARIFY_DELIVERY_FAIL is a
/// failed attempt still being sorted out with the carrier (`FailedAttempt`), DELIVERY_FAILED
/// the failure confirmed (`Exception`). An unknown state is read as `InTransit`: it comes on
/// a volume that is moving and must not stop polling.
pub fn normalize(state: &str) -> TrackingStatus {
    use TrackingStatus::*;
    match state.trim() {
        "NEW" | "READY_FOR_SHIPPING" => InfoReceived,
        "SHIPPED" | "IN_TRANSIT" => InTransit,
        "TO_BE_DELIVERED" => OutForDelivery,
        "DELIVERED" => Delivered,
        "CLARIFY_DELIVERY_FAIL" => FailedAttempt,
        "DELIVERY_FAILED" => Exception,
        "CANCELLED" => Cancelled,
        other => {
            tracing::warn!(
                state = other,
                "unknown Intelipost macro state, read as InTransit"
            );
            InTransit
        }
    }
}

/// The polling client.
#[derive(Debug, Clone)]
pub struct IntelipostClient {
    config: CarrierConfig,
    http: reqwest::Client,
}

impl IntelipostClient {
    pub fn new(config: CarrierConfig) -> Result<Self, TrackError> {
        let http = http::build_client(&config)?;
        Ok(Self { config, http })
    }

    async fn fetch(&self, invoice_number: &str) -> Result<TrackReport, TrackError> {
        let invoice_number = invoice_number.trim();
        let url = format!(
            "{}/api/v1/shipment_order/invoice/{}",
            self.config.base_url,
            path_segment(invoice_number)
        );
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header(API_KEY_HEADER, key);
        }
        let answer = http::send(request).await?;
        if !answer.status.is_success() {
            if !matches!(answer.status.as_u16(), 429 | 500..)
                && let Some(err) = answer
                    .text()
                    .ok()
                    .and_then(|t| serde_json::from_str::<Envelope<'_>>(t).ok())
                    .and_then(|e| envelope_error(&e, answer.status.as_u16()))
            {
                return Err(err);
            }
            http::check_status(&answer)?;
        }
        parse(invoice_number, answer.text()?)
    }
}

#[async_trait]
impl TrackingClient for IntelipostClient {
    fn carrier(&self) -> &str {
        CODE
    }

    async fn track(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        self.fetch(tracking_number)
            .await
            .map_err(|e| e.redact(&self.config.secrets()))
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    status: String,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize)]
struct Order<'a> {
    #[serde(borrow, default)]
    shipment_order_volume_array: Vec<Volume<'a>>,
}

#[derive(Deserialize)]
struct Volume<'a> {
    #[serde(default)]
    shipment_order_volume_invoice: Option<Invoice>,
    #[serde(borrow, default)]
    shipment_order_volume_state_history_array: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Invoice {
    #[serde(default)]
    invoice_number: Option<Value>,
}

/// The error an `ERROR` envelope stands for, `None` for `OK`.
fn envelope_error(envelope: &Envelope<'_>, http_status: u16) -> Option<TrackError> {
    if envelope.status.eq_ignore_ascii_case("OK") {
        return None;
    }
    let all = envelope
        .messages
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m.key.as_deref().unwrap_or_default(),
                m.text.as_deref().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let lower = all.to_lowercase();
    let not_found = [
        "not.found",
        "notfound",
        "not_found",
        "not found",
        "encontrad",
    ]
    .iter()
    .any(|p| lower.contains(p));
    Some(if not_found || http_status == 404 {
        TrackError::NotFound
    } else if http_status == 401 || http_status == 403 || lower.contains("api-key") {
        TrackError::Unauthorized
    } else {
        TrackError::Carrier {
            status: http_status,
            message: excerpt(all.trim().as_bytes()),
        }
    })
}

/// Digits of an NF-e number without leading zeros, for comparisons (`000123` is `123`).
fn invoice_key(number: &str) -> &str {
    let trimmed = number.trim().trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

fn parse(invoice_number: &str, text: &str) -> Result<TrackReport, TrackError> {
    let envelope: Envelope<'_> = parse_json(text, "Intelipost envelope")?;
    if let Some(err) = envelope_error(&envelope, 200) {
        return Err(err);
    }
    let content = envelope
        .content
        .ok_or_else(|| TrackError::Malformed("no content in the Intelipost answer".into()))?;
    // `content` is one shipment order, or a list of them (the invoice search).
    let orders: Vec<Order<'_>> = if content.get().trim_start().starts_with('[') {
        parse_json(content.get(), "Intelipost content")?
    } else {
        vec![parse_json(content.get(), "Intelipost content")?]
    };
    if orders.is_empty() {
        return Err(TrackError::NotFound);
    }
    let volumes: Vec<Volume<'_>> = orders
        .into_iter()
        .flat_map(|o| o.shipment_order_volume_array)
        .collect();
    let ours = |v: &Volume<'_>| {
        v.shipment_order_volume_invoice
            .as_ref()
            .and_then(|i| i.invoice_number.as_ref())
            .and_then(webhook::scalar_text)
            .is_some_and(|n| invoice_key(&n) == invoice_key(invoice_number))
    };
    let any_ours = volumes.iter().any(ours);
    let events = volumes
        .iter()
        .filter(|v| !any_ours || ours(v))
        .flat_map(|v| v.shipment_order_volume_state_history_array.iter())
        .map(|raw| {
            webhook::history_event(raw, "shipment_order_volume_state_history_array[]")
                .map_err(|e| TrackError::Malformed(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TrackReport {
        tracking_number: invoice_number.to_owned(),
        events,
    })
}

/// The webhook Intelipost POSTs for each new history entry of a volume.
///
/// The body (see the module sources) is
/// `{"order_number":"PEDIDO0004","tracking_code":"IP20160701BR","sales_channel":"...",
/// "volume_number":"1","invoice":{"invoice_series":"1","invoice_number":"1000",
/// "invoice_key":"..."},"history":{"shipment_order_volume_id":230713,
/// "shipment_order_volume_state":"IN_TRANSIT","shipment_order_volume_state_history":1384656,
/// "event_date_iso":"2016-07-01T17:22:00.000-03:00","created_iso":...,"provider_message":...,
/// "shipment_volume_micro_state":{"code":"27","name":"CARGA REDESPACHADA",...},...},
/// "estimated_delivery_date":{...}}`.
pub mod webhook {
    use std::collections::HashMap;

    use chrono::{DateTime, Utc};
    use serde_json::Value;
    use serde_json::value::RawValue;

    use super::normalize;
    use crate::CarrierEvent;

    /// What one push tells us.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct IntelipostPush {
        /// The merchant's sales channel, as configured in Intelipost.
        pub sales_channel: String,
        /// The carrier's tracking code, once the volume has one.
        pub tracking_code: Option<String>,
        /// The NF-e number (digits): our tracking number for Intelipost.
        pub invoice_number: String,
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
    }

    impl PushError {
        /// The field at fault, when there is one.
        pub fn field(&self) -> Option<&str> {
            match self {
                Self::Missing(field) | Self::Invalid { field, .. } => Some(field),
                _ => None,
            }
        }

        fn invalid(field: &str, reason: impl Into<String>) -> Self {
            Self::Invalid {
                field: field.to_owned(),
                reason: reason.into(),
            }
        }
    }

    /// Reads a push body.
    pub fn parse_push(body: &[u8]) -> Result<IntelipostPush, PushError> {
        let text = std::str::from_utf8(body).map_err(|_| PushError::NotUtf8)?;
        if text.trim().is_empty() {
            return Err(PushError::Empty);
        }
        let whole: &RawValue =
            serde_json::from_str(text).map_err(|e| PushError::NotJson(e.to_string()))?;
        if !whole.get().trim_start().starts_with('{') {
            return Err(PushError::NotAnObject);
        }
        let fields: HashMap<String, &RawValue> =
            serde_json::from_str(text).map_err(|e| PushError::NotJson(e.to_string()))?;

        let sales_channel = required_text(&fields, "sales_channel")?;
        let tracking_code = match value(&fields, "tracking_code")? {
            None => None,
            Some(v) => Some(text_of(&v, "tracking_code")?).filter(|t| !t.is_empty()),
        };
        let invoice = match value(&fields, "invoice")? {
            Some(Value::Object(map)) => map,
            None => return Err(PushError::Missing("invoice".into())),
            Some(other) => {
                return Err(PushError::invalid(
                    "invoice",
                    format!("expected an object, got {}", type_name(&other)),
                ));
            }
        };
        let invoice_number = match invoice.get("invoice_number") {
            None | Some(Value::Null) => {
                return Err(PushError::Missing("invoice.invoice_number".into()));
            }
            Some(v) => text_of(v, "invoice.invoice_number")?,
        };
        if invoice_number.is_empty() || !invoice_number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PushError::invalid(
                "invoice.invoice_number",
                "expected the NF-e number, digits only",
            ));
        }
        let history = fields
            .get("history")
            .copied()
            .filter(|raw| raw.get().trim() != "null")
            .ok_or_else(|| PushError::Missing("history".into()))?;
        let event = history_event(history, "history")?;
        Ok(IntelipostPush {
            sales_channel,
            tracking_code,
            invoice_number,
            event,
        })
    }

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
        let text = micro_text("name")
            .or_else(|| micro_text("default_name"))
            .or_else(|| plain("shipment_order_volume_state_localized"))
            .or_else(|| plain("provider_message"))
            .unwrap_or_default()
            .to_owned();
        Ok(CarrierEvent {
            event_id: event_id.filter(|id| !id.is_empty()),
            occurred_at,
            status: normalize(&state),
            carrier_status_code: state,
            carrier_status_text: text,
            location: location(get("location")),
            raw_payload: raw.get().to_owned(),
        })
    }

    /// When it happened at the carrier (`event_date_iso`, else the epoch milliseconds of
    /// `event_date`), else when Intelipost recorded it (`created_iso`, `created`).
    fn occurred_at(
        map: &serde_json::Map<String, Value>,
        at: &str,
    ) -> Result<DateTime<Utc>, PushError> {
        for (iso, millis) in [("event_date_iso", "event_date"), ("created_iso", "created")] {
            if let Some(v) = map.get(iso).filter(|v| !v.is_null()) {
                let field = format!("{at}.{iso}");
                let text = text_of(v, &field)?;
                return DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        PushError::invalid(&field, format!("not an ISO 8601 date-time: {text:?}"))
                    });
            }
            if let Some(v) = map.get(millis).filter(|v| !v.is_null()) {
                let field = format!("{at}.{millis}");
                return v
                    .as_i64()
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .ok_or_else(|| PushError::invalid(&field, "expected epoch milliseconds"));
            }
        }
        Err(PushError::Missing(format!("{at}.event_date_iso")))
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

    fn required_text(fields: &HashMap<String, &RawValue>, name: &str) -> Result<String, PushError> {
        let v = value(fields, name)?.ok_or_else(|| PushError::Missing(name.to_owned()))?;
        let text = text_of(&v, name)?;
        if text.is_empty() {
            return Err(PushError::invalid(name, "empty"));
        }
        Ok(text)
    }

    /// A string, or an integer written as text (Intelipost sends ids and numbers either way).
    fn text_of(value: &Value, field: &str) -> Result<String, PushError> {
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

    fn type_name(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackingStatus::*;

    #[test]
    fn every_macro_state() {
        let expected = [
            InfoReceived,
            InfoReceived,
            InTransit,
            InTransit,
            OutForDelivery,
            Delivered,
            FailedAttempt,
            Exception,
            Cancelled,
        ];
        for (state, status) in MACRO_STATES.iter().zip(expected) {
            assert_eq!(normalize(state), status, "{state}");
        }
        assert_eq!(normalize("LOST_IN_SPACE"), InTransit);
    }

    #[test]
    fn invoice_numbers_compare_without_leading_zeros() {
        assert_eq!(invoice_key("000123"), "123");
        assert_eq!(invoice_key("123"), "123");
        assert_eq!(invoice_key("000"), "0");
    }
}
