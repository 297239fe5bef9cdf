//! AfterShip-style tracking for every carrier we have no direct client for (usps, ups, fedex,
//! dhl, china-post...): AfterShip tracks the number at the carrier and normalises its events
//! into tags, which are the model of our own statuses (R21).
//!
//! `GET {base}/v4/trackings/{slug}/{tracking_number}` with the `aftership-api-key` header.
//! The answer is `{"meta":{"code":200},"data":{"tracking":{..., "checkpoints":[...]}}}`; an
//! unknown number is HTTP 404 with `meta.code` 4004. Each checkpoint becomes one event.
//!
//! Sources: <https://www.aftership.com/docs/tracking/model/checkpoint> (checkpoint fields),
//! <https://www.aftership.com/docs/aftership/model/tracking> (tracking object, tags); the
//! recorded answers of api.aftership.com in the VCR cassettes of
//! github.com/AfterShip/aftership-sdk-python `tests/fixtures/cassettes/`:
//! `TrackingWithAdditionalFieldsTestCase.test_get_tracking.yaml` @
//! 008a394681f8d294cfafc66fd694402980046f7c (a `postnl-3s` tracking: `meta.code` 200,
//! checkpoints with `tag`, `subtag` such as `InTransit_004`, `checkpoint_time` with an offset,
//! `location`/`city`/`country_iso3` often null), `TrackingTestCase.test_get_tracking.yaml` @
//! b0ea73c547dbf0e7198fc6032f87366b04ca23fe (tag `Pending`, `checkpoints: []`) and
//! `..._with_internal_error.yaml` @ b969789b312772953b6f5558e831707d0416a0f4 (HTTP 502,
//! `text/plain`, no JSON). Not recorded anywhere public: the 4004 (unknown number) body; it
//! follows AfterShip's documented error codes. `meta.code` 4001 (invalid key) is treated like
//! HTTP 401 by analogy.
//!
//! `checkpoint_time` is documented as the carrier's local time and may come without an offset
//! (`2014-10-13T03:00:00`): we then read it as UTC, as nothing in the answer says which zone
//! the carrier meant; with an offset it is exact.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::CarrierConfig;
use crate::error::{TrackError, excerpt};
use crate::http::{self, parse_json, path_segment};
use crate::normalize::unknown_status;
use crate::{CarrierEvent, TrackReport, TrackingStatus};

/// Header carrying the AfterShip API key.
pub const API_KEY_HEADER: &str = "aftership-api-key";

/// Our code for the AfterShip fallback configuration (`FULFILLMENT_CARRIER_AFTERSHIP_*`).
pub const CONFIG_CODE: &str = "aftership";

/// AfterShip's tag for a checkpoint (or a whole tracking) mapped to our status. A subtag
/// (`Delivered_001`, `Exception_011`) counts as its tag: it is `{tag}_{number}`.
///
/// The tags are AfterShip's closed list; an unknown one (a tag added after this was written)
/// is `INFO_RECEIVED`, counted and logged once ([`crate::normalize`]): not a scan, so it
/// cannot confirm fulfilment (R6), and not final, so polling goes on.
pub fn normalize(tag: &str) -> TrackingStatus {
    let full = tag.trim();
    let tag = full.split_once('_').map_or(full, |(tag, _)| tag);
    match tag {
        "Pending" => TrackingStatus::Pending,
        "InfoReceived" => TrackingStatus::InfoReceived,
        "InTransit" => TrackingStatus::InTransit,
        "OutForDelivery" => TrackingStatus::OutForDelivery,
        "AttemptFail" => TrackingStatus::FailedAttempt,
        "Delivered" => TrackingStatus::Delivered,
        "AvailableForPickup" => TrackingStatus::AvailableForPickup,
        "Exception" => TrackingStatus::Exception,
        "Expired" => TrackingStatus::Expired,
        _ => unknown_status(CONFIG_CODE, full, "", TrackingStatus::InfoReceived),
    }
}

/// Tracking through AfterShip for one carrier slug.
#[derive(Debug, Clone)]
pub struct AfterShipClient {
    slug: String,
    config: CarrierConfig,
    http: reqwest::Client,
}

impl AfterShipClient {
    /// `slug` is our carrier code, which is also AfterShip's courier slug (`usps`, `dhl`...).
    pub fn new(slug: impl Into<String>, config: CarrierConfig) -> Result<Self, TrackError> {
        let http = http::build_client(&config)?;
        Ok(Self::with_http(slug, config, http))
    }

    /// Shares an HTTP client (the registry uses one for every AfterShip slug).
    pub fn with_http(
        slug: impl Into<String>,
        config: CarrierConfig,
        http: reqwest::Client,
    ) -> Self {
        Self {
            slug: slug.into(),
            config,
            http,
        }
    }

    async fn fetch(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        let url = format!(
            "{}/v4/trackings/{}/{}",
            self.config.base_url,
            path_segment(&self.slug),
            path_segment(tracking_number)
        );
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header(API_KEY_HEADER, key);
        }
        // AfterShip's meta.code says more than the HTTP status (4004 = unknown number).
        let answer = http::execute_explained(request, |answer| {
            match answer.json::<Envelope<'_>>()?.meta.code {
                4004 => Some(TrackError::NotFound),
                401 | 4001 => Some(TrackError::Unauthorized),
                _ => None,
            }
        })
        .await?;
        parse(tracking_number, answer.text()?)
    }
}

crate::redacting_tracking_client!(AfterShipClient, |client| &client.slug);

#[derive(Deserialize)]
struct Envelope<'a> {
    meta: Meta,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta {
    code: i64,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    tracking: TrackingWire<'a>,
}

#[derive(Deserialize)]
struct TrackingWire<'a> {
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(borrow, default)]
    checkpoints: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Checkpoint {
    checkpoint_time: String,
    tag: String,
    #[serde(default)]
    subtag: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    country_iso3: Option<String>,
    #[serde(default)]
    country_name: Option<String>,
}

/// The 2xx answer parser alone, for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    parse(requested, text)
}

/// Parses a 2xx AfterShip answer.
fn parse(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    let envelope: Envelope<'_> = parse_json(text, "AfterShip envelope")?;
    if envelope.meta.code != 200 && envelope.meta.code != 201 {
        return Err(TrackError::Carrier {
            status: 200,
            message: format!(
                "meta.code {}: {}",
                envelope.meta.code,
                excerpt(envelope.meta.message.unwrap_or_default().as_bytes())
            ),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| TrackError::Malformed("no data in the AfterShip answer".into()))?;
    let data: Data<'_> = parse_json(data.get(), "AfterShip data.tracking")?;
    let events = data
        .tracking
        .checkpoints
        .unwrap_or_default()
        .into_iter()
        .map(event)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TrackReport {
        tracking_number: data
            .tracking
            .tracking_number
            .unwrap_or_else(|| requested.to_owned()),
        events,
    })
}

fn event(raw: &RawValue) -> Result<CarrierEvent, TrackError> {
    let cp: Checkpoint = parse_json(raw.get(), "AfterShip checkpoint")?;
    let occurred_at = parse_time(&cp.checkpoint_time)?;
    let location = cp
        .location
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| {
            [&cp.city, &cp.state, &cp.country_iso3.or(cp.country_name)]
                .into_iter()
                .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
                .collect::<Vec<_>>()
                .join(", ")
        });
    Ok(CarrierEvent {
        // AfterShip checkpoints carry no id: R22 falls back to a hash.
        event_id: None,
        occurred_at,
        status: normalize(&cp.tag),
        carrier_status_code: cp.subtag.filter(|s| !s.is_empty()).unwrap_or(cp.tag),
        carrier_status_text: cp.message.unwrap_or_default(),
        location,
        raw_payload: raw.get().to_owned(),
    })
}

/// RFC 3339, or the same without an offset, read as UTC (see the module doc).
fn parse_time(value: &str) -> Result<DateTime<Utc>, TrackError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
    .map(|t| t.and_utc())
    .ok_or_else(|| TrackError::Malformed(format!("bad checkpoint_time {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_tag() {
        let table = [
            ("Pending", TrackingStatus::Pending),
            ("InfoReceived", TrackingStatus::InfoReceived),
            ("InTransit", TrackingStatus::InTransit),
            ("OutForDelivery", TrackingStatus::OutForDelivery),
            ("AttemptFail", TrackingStatus::FailedAttempt),
            ("Delivered", TrackingStatus::Delivered),
            ("AvailableForPickup", TrackingStatus::AvailableForPickup),
            ("Exception", TrackingStatus::Exception),
            ("Expired", TrackingStatus::Expired),
        ];
        for (tag, status) in table {
            assert_eq!(normalize(tag), status, "{tag}");
        }
        assert_eq!(normalize("Teleported"), TrackingStatus::InfoReceived);
        assert_eq!(normalize("AttemptFail_003"), TrackingStatus::FailedAttempt);
        assert_eq!(normalize("Exception_011"), TrackingStatus::Exception);
    }

    #[test]
    fn times_with_and_without_offset() {
        assert_eq!(
            parse_time("2014-10-13T03:00:00+08:00")
                .unwrap()
                .to_rfc3339(),
            "2014-10-12T19:00:00+00:00"
        );
        assert_eq!(
            parse_time("2014-10-13T03:00:00").unwrap().to_rfc3339(),
            "2014-10-13T03:00:00+00:00"
        );
        assert!(parse_time("yesterday").is_err());
    }
}
