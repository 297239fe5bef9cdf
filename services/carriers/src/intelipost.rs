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
//! Sources (repository, path, commit; none copied, our fixtures are written from them, see
//! `tests/fixtures/intelipost/README.md`):
//! - the push body: `magentando/sdk-php` (written by Intelipost staff) `examples/Webhook.php`
//!   @ `ea17038b0f2eedb64716706f956ddca0f95b2cb2` and its models
//!   `Intelipost/IntelipostModel/webhook.php`, `webhook_history.php`; Intelipost's .NET SDK
//!   `intelipost/sdk-dotnet` `Intelipost/Intelipost.API/Model/Tracking/Tracking.cs`,
//!   `History.cs` @ `45ad0ce834739f01a64bd563a6c9f267e5b71fb2` and
//!   `Model/ShipmentOrder/ShipmentOrderVolumeMicroState.cs`, `ShipmentOrderVolumeInvoice.cs`
//!   (`order_number`, `tracking_code`, `volume_number`, `invoice{invoice_number,
//!   invoice_series, invoice_key}`, `history{...}`, no sales channel);
//! - the macro states: Intelipost's Magento 2 module `intelipost/Magento2`
//!   `Controller/Webhook/Index.php` @ `0033c23e873c0df7addb0e8d46599ab8dbecdea7` and
//!   `Helper/Data.php` @ `e0f61bea5394cb7dfcb48ef36e2a95290c652962` (pre-dispatch `NEW`,
//!   `READY_FOR_SHIPPING`, `SHIPPED`; post-dispatch `IN_TRANSIT`, `TO_BE_DELIVERED`,
//!   `DELIVERED`, `CLARIFY_DELIVERY_FAIL`, `DELIVERY_FAILED`) and `intelipost/magento2-tracking`
//!   `Controller/Webhook/Webhook.php` @ `45f4cc3faeb9e75c2727f2c71d09dfa291c57cd0`;
//!   `CANCELLED` from Intelipost's documentation as the brief quotes it (not seen in a sample);
//! - the `shipment_order` answer: `intelipost/sdk-java` `src/test/resources/ShipmentOrder.json`
//!   and `response/Response.java` @ `36a778713c9f44bc0a5a26318a18d3a9bc882ae5`.
//!
//! Intelipost's own reference (<https://docs.intelipost.com.br/>) was not reachable from here:
//! the `ERROR` key for an unknown order (`shipmentOrder.notFound` in the fixtures) and the
//! `estimated_delivery_date` / `sales_order_number` / `tracking_url` fields of the push follow
//! the documentation page's field list as quoted to us, not a verified sample.

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
fn read_unknown(state: &str, text: &str) -> TrackingStatus {
    crate::normalize::unknown_status(CODE, state, text, UNKNOWN_STATE_READ_AS)
}

/// The table above; `None` for a state it does not have.
fn known_state(state: &str) -> Option<TrackingStatus> {
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

/// The 2xx answer parser alone, for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    parse(requested, text)
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
/// The body (see the module sources) is one object:
/// `{"order_number":"...","tracking_code":"SW123456789BR","volume_number":"1",
/// "invoice":{"invoice_key":"<44 digits>","invoice_number":"1000","invoice_series":"1"},
/// "history":{"shipment_order_volume_id":234,"shipment_order_volume_state":"NEW",
/// "shipment_order_volume_state_history":3597,"event_date":1427143660182,
/// "event_date_iso":"2015-03-23T17:47:40.182-03:00","created":...,"created_iso":...,
/// "provider_message":"Pedido criado","provider_state":"NOVO","esprinter_message":null,
/// "shipment_order_volume_state_localized":"Criado",
/// "shipment_volume_micro_state":{"id":..,"code":..,"default_name":..,"name":..,...}}}`,
/// and per Intelipost's documentation also `sales_order_number`, `tracking_url` and
/// `estimated_delivery_date`. There is no sales channel: R14 makes the channel `wish` a
/// condition of the merchant's event rule in Intelipost, so it is never required.
///
/// **Lenient where Intelipost varies:** fields we do not read are ignored (a body with extra
/// fields, a `sales_channel` among them, is accepted); optional fields may be missing or
/// null; ids and numbers may be strings or integers; dates may be ISO 8601 (offset with or
/// without a colon) or epoch milliseconds; macro states are matched whatever their case.
///
/// **Strict where it must be:** the body is a JSON object; `history` is an object with a
/// `shipment_order_volume_state` and a date; a field we identify the tracking by has the
/// right type; and the push names its tracking.
///
/// **What identifies the tracking:** the NF-e number, `invoice.invoice_number`. It is our
/// tracking number for Intelipost (R12), and the one value whose meaning is the same in
/// Intelipost and here. `tracking_code` is the carrier's number: recorded as a mapping to the
/// NF-e (R12) and, when a push carries no NF-e, resolved through a mapping Intelipost reported
/// before (the service does that); never taken as the tracking by itself, since R12 keeps an
/// unresolved carrier number `PENDING`, never guessed. `order_number` is the shipment order's
/// number in Intelipost, chosen by the merchant's systems: it names nothing in this service
/// and is kept in the raw payload only. A body with neither an NF-e nor a tracking code is
/// refused ([`PushError::Unidentifiable`]).
pub mod webhook {
    use std::collections::HashMap;

    use chrono::{DateTime, Utc};
    use fulfillment_policy::tracking_number::{is_nfe_number, normalize_tracking_number};
    use serde_json::Value;
    use serde_json::value::RawValue;

    use super::{known_state, read_unknown};
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

        fn invalid(field: &str, reason: impl Into<String>) -> Self {
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
        // PostgreSQL stores no NUL (U+0000) in text or jsonb, and the raw body is kept: refuse
        // it here, naming where it is, rather than fail the transaction later.
        if text.contains("\\u0000") || text.contains('\0') {
            let value: Value =
                serde_json::from_str(text).map_err(|e| PushError::NotJson(e.to_string()))?;
            if let Some(field) = nul_path(&value, "") {
                return Err(PushError::invalid(
                    &field,
                    "must not contain the NUL character (U+0000)",
                ));
            }
        }
        let fields: HashMap<String, &RawValue> =
            serde_json::from_str(text).map_err(|e| PushError::NotJson(e.to_string()))?;

        // The identifiers first: the tracking they name is what the push is for.
        let tracking_code = match value(&fields, "tracking_code")? {
            None => None,
            Some(v) => Some(normalize_tracking_number(&text_of(&v, "tracking_code")?)),
        }
        .filter(|t| !t.is_empty());
        let invoice_number = match value(&fields, "invoice")? {
            None => None,
            Some(Value::Object(invoice)) => nfe_number(&invoice)?,
            Some(other) => {
                return Err(PushError::invalid(
                    "invoice",
                    format!("expected an object, got {}", type_name(&other)),
                ));
            }
        };
        if invoice_number.is_none() && tracking_code.is_none() {
            return Err(PushError::Unidentifiable);
        }
        let history = fields
            .get("history")
            .copied()
            .filter(|raw| raw.get().trim() != "null")
            .ok_or_else(|| PushError::Missing("history".into()))?;
        let event = history_event(history, "history")?;
        // Informative fields: read when they are text or numbers, else left out.
        let informative = |name: &str| {
            value(&fields, name)
                .ok()
                .flatten()
                .as_ref()
                .and_then(scalar_text)
                .filter(|t| !t.is_empty())
        };
        Ok(IntelipostPush {
            order_number: informative("order_number"),
            volume_number: informative("volume_number"),
            tracking_code,
            invoice_number,
            event,
        })
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
    fn occurred_at(
        map: &serde_json::Map<String, Value>,
        at: &str,
    ) -> Result<DateTime<Utc>, PushError> {
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
}
