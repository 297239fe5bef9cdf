//! The polling client: the shipment order of our NF-e number, its volumes' histories.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::history::{history_event, scalar_text};
use super::{API_KEY_HEADER, CODE};
use crate::TrackReport;
use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};
use crate::http::{self, parse_json, path_segment};

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
        let answer = http::execute_explained(request, |answer| {
            if !answer.body_may_explain() {
                return None;
            }
            envelope_error(&answer.json::<Envelope<'_>>()?, answer.status.as_u16())
        })
        .await?;
        parse(invoice_number, answer.text()?)
    }
}

crate::redacting_tracking_client!(IntelipostClient, CODE);

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
pub(super) fn invoice_key(number: &str) -> &str {
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
            .and_then(scalar_text)
            .is_some_and(|n| invoice_key(&n) == invoice_key(invoice_number))
    };
    let any_ours = volumes.iter().any(ours);
    let events = volumes
        .iter()
        .filter(|v| !any_ours || ours(v))
        .flat_map(|v| v.shipment_order_volume_state_history_array.iter())
        .map(|raw| {
            history_event(raw, "shipment_order_volume_state_history_array[]")
                .map_err(|e| TrackError::Malformed(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TrackReport {
        tracking_number: invoice_number.to_owned(),
        events,
    })
}
