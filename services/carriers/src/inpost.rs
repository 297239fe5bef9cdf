//! InPost ShipX tracking (parcel lockers and courier, PL).
//!
//! `GET {base}/v1/tracking/{tracking_number}`: public, a bearer token (the ShipX organisation
//! token) is sent when configured. The answer lists `tracking_details` (`status`,
//! `origin_status`, `agency`, `datetime` with an offset), newest first; an unknown number is
//! HTTP 404 `{"status":404,"error":"resource_not_found",...}`. ShipX details have no id and no
//! text: `origin_status` (InPost's internal event code) is kept as the carrier text.
//!
//! Sources: ShipX API documentation, "Statuses" (`GET /v1/statuses`, the status resource),
//! <https://dokumentacja-inpost.atlassian.net/wiki/spaces/PL/pages/18153478/Statuses>; the
//! tracking answer and its 404 body as in the brief and public ShipX clients
//! (`https://api-shipx-pl.easypack24.net/v1/tracking/{number}`). The status list is the one
//! the brief gives; its per-status English titles were not readable here, so the mapping
//! follows the status names.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::CarrierConfig;
use crate::error::TrackError;
use crate::http::{self, parse_json, path_segment};
use crate::{CarrierEvent, TrackReport, TrackingClient, TrackingStatus};

/// Our carrier code.
pub const CODE: &str = "inpost";

/// Every status ShipX documents (`GET /v1/statuses`), in its order.
pub const STATUSES: [&str; 53] = [
    "created",
    "offers_prepared",
    "offer_selected",
    "confirmed",
    "dispatched_by_sender",
    "collected_from_sender",
    "taken_by_courier",
    "adopted_at_source_branch",
    "sent_from_source_branch",
    "ready_to_pickup_from_pok",
    "ready_to_pickup_from_pok_registered",
    "oversized",
    "adopted_at_sorting_center",
    "sent_from_sorting_center",
    "adopted_at_target_branch",
    "out_for_delivery",
    "ready_to_pickup",
    "pickup_reminder_sent",
    "delivered",
    "pickup_time_expired",
    "avizo",
    "claimed",
    "returned_to_sender",
    "canceled",
    "other",
    "dispatched_by_sender_to_pok",
    "out_for_delivery_to_address",
    "pickup_reminder_sent_address",
    "rejected_by_receiver",
    "undelivered_wrong_address",
    "undelivered_incomplete_address",
    "undelivered_unknown_receiver",
    "undelivered_cod_cash_receiver",
    "taken_by_courier_from_pok",
    "undelivered",
    "return_pickup_confirmation_to_sender",
    "ready_to_pickup_from_branch",
    "delay_in_delivery",
    "redirect_to_box",
    "canceled_redirect_to_box",
    "readdressed",
    "undelivered_no_mailbox",
    "undelivered_not_live_address",
    "undelivered_lack_of_access_letterbox",
    "missing",
    "stack_in_customer_service_point",
    "stack_parcel_pickup_time_expired",
    "unstack_from_customer_service_point",
    "courier_avizo_in_customer_service_point",
    "taken_by_courier_from_customer_service_point",
    "stack_in_box_machine",
    "unstack_from_box_machine",
    "stack_parcel_in_box_machine_pickup_time_expired",
];

/// A ShipX status mapped to ours.
///
/// Before the parcel reaches InPost (created, offers, confirmed) it is `InfoReceived`; any
/// handling by InPost is `InTransit`; waiting in a locker, a PaczkoPunkt, a branch or a
/// customer service point is `AvailableForPickup`; a courier who could not deliver is
/// `FailedAttempt`; expired pickups, returns, refusals, claims, losses and oversize are
/// `Exception`. An unknown status (ShipX adds some every year) is read as `InTransit`: it is
/// an event InPost logged on a parcel it handles, and must not stop polling.
pub fn normalize(status: &str) -> TrackingStatus {
    use TrackingStatus::*;
    match status {
        "created" | "offers_prepared" | "offer_selected" | "confirmed" => InfoReceived,
        "dispatched_by_sender"
        | "dispatched_by_sender_to_pok"
        | "collected_from_sender"
        | "taken_by_courier"
        | "taken_by_courier_from_pok"
        | "taken_by_courier_from_customer_service_point"
        | "adopted_at_source_branch"
        | "sent_from_source_branch"
        | "adopted_at_sorting_center"
        | "sent_from_sorting_center"
        | "adopted_at_target_branch"
        | "redirect_to_box"
        | "canceled_redirect_to_box"
        | "readdressed"
        | "delay_in_delivery"
        | "unstack_from_customer_service_point"
        | "unstack_from_box_machine"
        | "other" => InTransit,
        "out_for_delivery" | "out_for_delivery_to_address" => OutForDelivery,
        "ready_to_pickup"
        | "ready_to_pickup_from_pok"
        | "ready_to_pickup_from_pok_registered"
        | "ready_to_pickup_from_branch"
        | "pickup_reminder_sent"
        | "pickup_reminder_sent_address"
        | "stack_in_customer_service_point"
        | "courier_avizo_in_customer_service_point"
        | "stack_in_box_machine" => AvailableForPickup,
        "avizo"
        | "undelivered"
        | "undelivered_wrong_address"
        | "undelivered_incomplete_address"
        | "undelivered_unknown_receiver"
        | "undelivered_cod_cash_receiver"
        | "undelivered_no_mailbox"
        | "undelivered_not_live_address"
        | "undelivered_lack_of_access_letterbox" => FailedAttempt,
        "delivered" => Delivered,
        "pickup_time_expired"
        | "stack_parcel_pickup_time_expired"
        | "stack_parcel_in_box_machine_pickup_time_expired"
        | "oversized"
        | "claimed"
        | "returned_to_sender"
        | "return_pickup_confirmation_to_sender"
        | "rejected_by_receiver"
        | "missing" => Exception,
        "canceled" => Cancelled,
        other => {
            tracing::warn!(status = other, "unknown InPost status, read as InTransit");
            InTransit
        }
    }
}

/// The ShipX tracking client.
#[derive(Debug, Clone)]
pub struct InPostClient {
    config: CarrierConfig,
    http: reqwest::Client,
}

impl InPostClient {
    pub fn new(config: CarrierConfig) -> Result<Self, TrackError> {
        let http = http::build_client(&config)?;
        Ok(Self { config, http })
    }

    async fn fetch(&self, tracking_number: &str) -> Result<TrackReport, TrackError> {
        let url = format!(
            "{}/v1/tracking/{}",
            self.config.base_url,
            path_segment(tracking_number)
        );
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(token) = &self.config.api_key {
            request = request.bearer_auth(token);
        }
        let answer = http::execute(request).await?;
        parse(tracking_number, answer.text()?)
    }
}

#[async_trait]
impl TrackingClient for InPostClient {
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
struct TrackingWire<'a> {
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(borrow)]
    tracking_details: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Detail {
    status: String,
    #[serde(default)]
    origin_status: Option<String>,
    #[serde(default)]
    agency: Option<String>,
    datetime: String,
}

fn parse(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    let wire: TrackingWire<'_> = parse_json(text, "ShipX tracking")?;
    let events = wire
        .tracking_details
        .into_iter()
        .map(|raw| {
            let detail: Detail = parse_json(raw.get(), "ShipX tracking detail")?;
            let occurred_at = DateTime::parse_from_rfc3339(&detail.datetime)
                .map_err(|_| {
                    TrackError::Malformed(format!("bad ShipX datetime {:?}", detail.datetime))
                })?
                .with_timezone(&Utc);
            Ok(CarrierEvent {
                event_id: None,
                occurred_at,
                status: normalize(&detail.status),
                carrier_status_code: detail.status,
                carrier_status_text: detail.origin_status.unwrap_or_default(),
                location: detail.agency.unwrap_or_default(),
                raw_payload: raw.get().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, TrackError>>()?;
    Ok(TrackReport {
        tracking_number: wire.tracking_number.unwrap_or_else(|| requested.to_owned()),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackingStatus::*;

    #[test]
    fn every_documented_status() {
        let table: [(&str, TrackingStatus); 53] = [
            ("created", InfoReceived),
            ("offers_prepared", InfoReceived),
            ("offer_selected", InfoReceived),
            ("confirmed", InfoReceived),
            ("dispatched_by_sender", InTransit),
            ("collected_from_sender", InTransit),
            ("taken_by_courier", InTransit),
            ("adopted_at_source_branch", InTransit),
            ("sent_from_source_branch", InTransit),
            ("ready_to_pickup_from_pok", AvailableForPickup),
            ("ready_to_pickup_from_pok_registered", AvailableForPickup),
            ("oversized", Exception),
            ("adopted_at_sorting_center", InTransit),
            ("sent_from_sorting_center", InTransit),
            ("adopted_at_target_branch", InTransit),
            ("out_for_delivery", OutForDelivery),
            ("ready_to_pickup", AvailableForPickup),
            ("pickup_reminder_sent", AvailableForPickup),
            ("delivered", Delivered),
            ("pickup_time_expired", Exception),
            ("avizo", FailedAttempt),
            ("claimed", Exception),
            ("returned_to_sender", Exception),
            ("canceled", Cancelled),
            ("other", InTransit),
            ("dispatched_by_sender_to_pok", InTransit),
            ("out_for_delivery_to_address", OutForDelivery),
            ("pickup_reminder_sent_address", AvailableForPickup),
            ("rejected_by_receiver", Exception),
            ("undelivered_wrong_address", FailedAttempt),
            ("undelivered_incomplete_address", FailedAttempt),
            ("undelivered_unknown_receiver", FailedAttempt),
            ("undelivered_cod_cash_receiver", FailedAttempt),
            ("taken_by_courier_from_pok", InTransit),
            ("undelivered", FailedAttempt),
            ("return_pickup_confirmation_to_sender", Exception),
            ("ready_to_pickup_from_branch", AvailableForPickup),
            ("delay_in_delivery", InTransit),
            ("redirect_to_box", InTransit),
            ("canceled_redirect_to_box", InTransit),
            ("readdressed", InTransit),
            ("undelivered_no_mailbox", FailedAttempt),
            ("undelivered_not_live_address", FailedAttempt),
            ("undelivered_lack_of_access_letterbox", FailedAttempt),
            ("missing", Exception),
            ("stack_in_customer_service_point", AvailableForPickup),
            ("stack_parcel_pickup_time_expired", Exception),
            ("unstack_from_customer_service_point", InTransit),
            (
                "courier_avizo_in_customer_service_point",
                AvailableForPickup,
            ),
            ("taken_by_courier_from_customer_service_point", InTransit),
            ("stack_in_box_machine", AvailableForPickup),
            ("unstack_from_box_machine", InTransit),
            ("stack_parcel_in_box_machine_pickup_time_expired", Exception),
        ];
        for ((status, expected), documented) in table.iter().zip(STATUSES) {
            assert_eq!(*status, documented, "the table follows STATUSES");
            assert_eq!(normalize(status), *expected, "{status}");
        }
        assert_eq!(normalize("teleported"), InTransit);
    }
}
