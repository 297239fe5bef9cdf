//! WishPost (Wish's logistics platform, CN → world) tracking.
//!
//! **The wire shape here is modelled, not copied from WishPost's documentation.** What could be
//! verified: WishPost API v2 documents a `tracking` endpoint
//! (<https://wishpost.wish.com/documentation/api/v2#tracking>, cited by public clients) taking
//! an `access_token` and barcodes, and answering per barcode a list of `track` entries with
//! `status_number` (1–30, table below), `status_desc`, `date` and `remark` (place). That API
//! speaks XML; no documentation of a JSON version could be found. This client speaks the same
//! fields as JSON:
//!
//! `GET {base}/api/v3/tracking/{barcode}` with `Authorization: Bearer {api_key}` answering
//! `{"code":0,"message":"OK","data":{"barcode":"...","tracks":[{"id":"...","status_number":1,
//! "status_desc":"...","date":"2024-03-01T09:12:00+08:00","remark":"Shenzhen"}]}}`; an error is
//! a non-zero `code` with a `message` (`Invalid Barcode` for an unknown number). The fixtures
//! are named `*_modelled.json` accordingly. A WishPost order cancelled by the merchant reports
//! the status `Cancelled` (R15 depends on it), which the v2 table does not list.
//!
//! `date` without an offset is read as China Standard Time (UTC+8, no DST): WishPost reports
//! from its Chinese systems and v2 dates carry no zone.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};
use crate::http::{self, parse_json, path_segment};
use crate::{CarrierEvent, TrackReport, TrackingClient, TrackingStatus};

/// Our carrier code.
pub const CODE: &str = "wishpost";

/// WishPost's cancellation status (order cancelled before or after labelling).
pub const CANCELLED: &str = "Cancelled";

/// The v2 `status_number` table (WishPost's Chinese descriptions, translated), then
/// `Cancelled`.
pub const STATUSES: [(&str, &str); 31] = [
    ("1", "WishPost order created"),
    ("2", "Picked up"),
    ("3", "Arrived at the first-mile sorting centre"),
    ("4", "Processed at the first-mile sorting centre"),
    ("5", "Left the first-mile sorting centre"),
    ("6", "Returned by the first-mile sorting centre"),
    ("7", "Arrived at the logistics provider"),
    ("8", "Processed at the logistics provider"),
    ("9", "Dispatched by the logistics provider"),
    ("10", "Returned by the logistics provider"),
    ("11", "Arrived at origin customs"),
    ("12", "Origin customs clearance failed"),
    ("13", "Left origin customs"),
    ("14", "Scheduled for the flight"),
    ("15", "Arrived at the origin airport"),
    ("16", "Departed to the destination country"),
    ("17", "Arrived at destination customs"),
    ("18", "Destination customs clearance failed"),
    ("19", "Left destination customs"),
    ("20", "Arrived in the destination country"),
    ("21", "Arrived at the delivery office"),
    ("22", "Delivery attempted"),
    ("23", "Delivered"),
    ("24", "Signed for"),
    ("25", "Returned from abroad"),
    ("26", "Your parcel is being shipped."),
    ("27", "Tracking ended"),
    ("28", "Arrived at a transit centre"),
    ("29", "Left a transit centre"),
    ("30", "Arrived at the destination airport"),
    (CANCELLED, "Cancelled"),
];

/// A WishPost status (a `status_number`, or `Cancelled`) mapped to ours.
///
/// The order being created is `InfoReceived`; every move is `InTransit`; returns and failed
/// customs clearance are `Exception`; "tracking ended" (27) without a delivery is `Expired`,
/// final, as nothing more will come. An unknown number is read as `InTransit` (a checkpoint
/// WishPost logged on a moving parcel).
pub fn normalize(code: &str) -> TrackingStatus {
    use TrackingStatus::*;
    let code = code.trim();
    if code.eq_ignore_ascii_case("cancelled") || code.eq_ignore_ascii_case("canceled") {
        return Cancelled;
    }
    match code {
        "1" => InfoReceived,
        "2" | "3" | "4" | "5" | "7" | "8" | "9" | "11" | "13" | "14" | "15" | "16" | "17"
        | "19" | "20" | "21" | "26" | "28" | "29" | "30" => InTransit,
        "6" | "10" | "12" | "18" | "25" => Exception,
        "22" => FailedAttempt,
        "23" | "24" => Delivered,
        "27" => Expired,
        other => {
            tracing::warn!(status = other, "unknown WishPost status, read as InTransit");
            InTransit
        }
    }
}

/// The WishPost tracking client.
#[derive(Debug, Clone)]
pub struct WishPostClient {
    config: CarrierConfig,
    http: reqwest::Client,
}

impl WishPostClient {
    pub fn new(config: CarrierConfig) -> Result<Self, TrackError> {
        let http = http::build_client(&config)?;
        Ok(Self { config, http })
    }

    async fn fetch(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        let url = format!(
            "{}/api/v3/tracking/{}",
            self.config.base_url,
            path_segment(tracking_number)
        );
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(token) = &self.config.api_key {
            request = request.bearer_auth(token);
        }
        let answer = http::send(request).await?;
        if !answer.status.is_success() {
            // An error body says more than the status (an unknown barcode may come as a 400).
            if let Some(err) = answer
                .text()
                .ok()
                .and_then(|t| serde_json::from_str::<Envelope<'_>>(t).ok())
                .and_then(|e| app_error(&e))
                && !matches!(answer.status.as_u16(), 429 | 500..)
            {
                return Err(err);
            }
            http::check_status(&answer)?;
        }
        parse(tracking_number, answer.text()?)
    }
}

#[async_trait]
impl TrackingClient for WishPostClient {
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
    code: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(default)]
    barcode: Option<String>,
    #[serde(borrow, default)]
    tracks: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Track {
    #[serde(default)]
    id: Option<serde_json::Value>,
    status_number: serde_json::Value,
    #[serde(default)]
    status_desc: Option<String>,
    date: String,
    #[serde(default)]
    remark: Option<String>,
}

/// The error a non-zero `code` stands for.
fn app_error(envelope: &Envelope<'_>) -> Option<TrackError> {
    if envelope.code == 0 {
        return None;
    }
    let message = envelope.message.clone().unwrap_or_default();
    let lower = message.to_lowercase();
    Some(
        if lower.contains("invalid barcode") || lower.contains("not found") {
            TrackError::NotFound
        } else if lower.contains("token") {
            TrackError::Unauthorized
        } else {
            TrackError::Carrier {
                status: 200,
                message: format!("code {}: {}", envelope.code, excerpt(message.as_bytes())),
            }
        },
    )
}

fn parse(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    let envelope: Envelope<'_> = parse_json(text, "WishPost answer")?;
    if let Some(err) = app_error(&envelope) {
        return Err(err);
    }
    let data = envelope
        .data
        .ok_or_else(|| TrackError::Malformed("no data in the WishPost answer".into()))?;
    let data: Data<'_> = parse_json(data.get(), "WishPost data")?;
    let events = data
        .tracks
        .into_iter()
        .map(|raw| {
            let track: Track = parse_json(raw.get(), "WishPost track")?;
            let code = scalar(&track.status_number)
                .ok_or_else(|| TrackError::Malformed("bad WishPost status_number".into()))?;
            let text = track.status_desc.unwrap_or_else(|| {
                STATUSES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map(|(_, d)| (*d).to_owned())
                    .unwrap_or_default()
            });
            Ok(CarrierEvent {
                event_id: track.id.as_ref().and_then(scalar),
                occurred_at: parse_time(&track.date)?,
                status: normalize(&code),
                carrier_status_code: code,
                carrier_status_text: text,
                location: track.remark.unwrap_or_default(),
                raw_payload: raw.get().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, TrackError>>()?;
    Ok(TrackReport {
        tracking_number: data.barcode.unwrap_or_else(|| requested.to_owned()),
        events,
    })
}

/// A string or a number as text.
fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// RFC 3339, or a zone-less date read as UTC+8 (see the module doc).
fn parse_time(value: &str) -> Result<DateTime<Utc>, TrackError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let china = FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| TrackError::Malformed("bad offset".into()))?;
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
    .and_then(|t| china.from_local_datetime(&t).single())
    .map(|t| t.with_timezone(&Utc))
    .ok_or_else(|| TrackError::Malformed(format!("bad WishPost date {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackingStatus::*;

    #[test]
    fn every_status() {
        let expected: [TrackingStatus; 31] = [
            InfoReceived,  // 1
            InTransit,     // 2
            InTransit,     // 3
            InTransit,     // 4
            InTransit,     // 5
            Exception,     // 6
            InTransit,     // 7
            InTransit,     // 8
            InTransit,     // 9
            Exception,     // 10
            InTransit,     // 11
            Exception,     // 12
            InTransit,     // 13
            InTransit,     // 14
            InTransit,     // 15
            InTransit,     // 16
            InTransit,     // 17
            Exception,     // 18
            InTransit,     // 19
            InTransit,     // 20
            InTransit,     // 21
            FailedAttempt, // 22
            Delivered,     // 23
            Delivered,     // 24
            Exception,     // 25
            InTransit,     // 26
            Expired,       // 27
            InTransit,     // 28
            InTransit,     // 29
            InTransit,     // 30
            Cancelled,     // Cancelled
        ];
        for ((code, _), status) in STATUSES.iter().zip(expected) {
            assert_eq!(normalize(code), status, "{code}");
        }
        assert_eq!(normalize("CANCELED"), Cancelled);
        assert_eq!(normalize("99"), InTransit);
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_time("2024-03-01 09:12:00").unwrap().to_rfc3339(),
            "2024-03-01T01:12:00+00:00"
        );
        assert_eq!(
            parse_time("2024-03-01T09:12:00+08:00")
                .unwrap()
                .to_rfc3339(),
            "2024-03-01T01:12:00+00:00"
        );
        assert!(parse_time("soon").is_err());
    }
}
