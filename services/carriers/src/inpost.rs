//! InPost ShipX tracking (parcel lockers and courier, PL).
//!
//! `GET {base}/v1/tracking/{tracking_number}`: public, a bearer token (the ShipX organisation
//! token) is sent when configured. The answer lists `tracking_details` (`status`,
//! `origin_status`, `agency`, `datetime` with an offset), newest first; an unknown number is
//! HTTP 404 `{"status":404,"error":"resource_not_found",...}`. ShipX details have no id and no
//! text: `origin_status` (InPost's internal event code) is kept as the carrier text.
//!
//! Sources: the status names and ShipX's own (Polish) description of each, as ShipX's
//! statuses resource gives them (`GET /v1/statuses`), listed in github.com/BeNightingale/
//! DeliveryTracker0 `track-app/src/main/java/track/StatusMapper.java` @
//! 609ed7411dfd3094e0b0ca0eb1df52c267af7cf4; the tracking answer's shape (`tracking_number`,
//! `type`, `service`, `status`, `custom_attributes.target_machine_detail`,
//! `tracking_details[]` newest first with `status`, `origin_status`, `datetime` with
//! milliseconds and an offset, `expected_flow`, `created_at`, `updated_at`; no `agency` there)
//! as recorded in github.com/sylapi/courier-inpost
//! `tests/Integration/Mock/InpostCourierGetStatusSuccess.json` @
//! 899dbf93a612ae47bf699c1c9390e79469ccdd6e, and its 404 `resource_not_found` body in
//! `InpostCourierActionFailure.json` (same commit). `agency` is read when present (ShipX's
//! documentation lists it), else the location is empty.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::CarrierConfig;
use crate::error::TrackError;
use crate::http::{self, parse_json, path_segment};
use crate::normalize::unknown_status;
use crate::{CarrierEvent, TrackReport, TrackingStatus};

/// Our carrier code.
pub const CODE: &str = "inpost";

/// Every status ShipX documents (`GET /v1/statuses`), in its order: the name, what ShipX's
/// own description says (our English summary of the Polish text), and our status.
///
/// The readings follow the descriptions, not the names: `return_pickup_confirmation_to_sender`
/// says the parcel was collected and the return receipt went to the sender (`DELIVERED`);
/// `pickup_reminder_sent_address` says the courier did not find the receiver and tries again
/// the next working day (`FAILED_ATTEMPT`); `avizo` and `undelivered_lack_of_access_letterbox`
/// say the parcel is on its way back to the sender (`EXCEPTION`); the `stack_*_expired`
/// statuses say the parcel waits for a courier to take it on to the chosen locker
/// (`IN_TRANSIT`, not a return).
pub const STATUSES: [(&str, &str, TrackingStatus); 53] = {
    use TrackingStatus::*;
    [
        ("created", "created, not ready to be sent yet", InfoReceived),
        (
            "offers_prepared",
            "offers for the shipment prepared",
            InfoReceived,
        ),
        (
            "offer_selected",
            "the customer chose one of the offers",
            InfoReceived,
        ),
        (
            "confirmed",
            "the sender says the parcel is ready; its journey has not started",
            InfoReceived,
        ),
        (
            "dispatched_by_sender",
            "in a Paczkomat locker, waiting for the courier to take it out",
            InTransit,
        ),
        (
            "collected_from_sender",
            "the courier collected it from the sender",
            InTransit,
        ),
        (
            "taken_by_courier",
            "collected from the sender, on its way",
            InTransit,
        ),
        (
            "adopted_at_source_branch",
            "arrived at an InPost branch, leaves soon",
            InTransit,
        ),
        (
            "sent_from_source_branch",
            "carried between InPost branches",
            InTransit,
        ),
        (
            "ready_to_pickup_from_pok",
            "please collect it from the InPost point within 3 days",
            AvailableForPickup,
        ),
        (
            "ready_to_pickup_from_pok_registered",
            "please collect it from the InPost point within 3 days (registered)",
            AvailableForPickup,
        ),
        (
            "oversized",
            "does not fit the Paczkomat locker compartment",
            FailedAttempt,
        ),
        (
            "adopted_at_sorting_center",
            "waiting at the sorting centre for the destination city",
            InTransit,
        ),
        (
            "sent_from_sorting_center",
            "on its way to the receiver's city",
            InTransit,
        ),
        (
            "adopted_at_target_branch",
            "in the receiver's city, soon with the courier",
            InTransit,
        ),
        (
            "out_for_delivery",
            "reaches the receiver by the next working day; the courier is delivering",
            OutForDelivery,
        ),
        (
            "ready_to_pickup",
            "waiting in the chosen Paczkomat locker; the receiver has the pickup code",
            AvailableForPickup,
        ),
        (
            "pickup_reminder_sent",
            "still waiting in the locker for another 24 hours",
            AvailableForPickup,
        ),
        (
            "delivered",
            "the journey from sender to receiver has ended",
            Delivered,
        ),
        (
            "pickup_time_expired",
            "the pickup time has passed; it will be returned to the sender",
            Exception,
        ),
        (
            "avizo",
            "the courier again did not find the receiver; on its way back to the sender",
            Exception,
        ),
        ("claimed", "please complete the complaint form", Exception),
        (
            "returned_to_sender",
            "on its way back to the sender",
            Exception,
        ),
        (
            "canceled",
            "the label was cancelled or expired; the parcel was not sent",
            Cancelled,
        ),
        (
            "other",
            "the parcel is in an unrecognised status",
            Exception,
        ),
        (
            "dispatched_by_sender_to_pok",
            "the sender handed it to an InPost point; its journey starts",
            InTransit,
        ),
        (
            "out_for_delivery_to_address",
            "handed to the courier for delivery to the address",
            OutForDelivery,
        ),
        (
            "pickup_reminder_sent_address",
            "the courier did not find the receiver; next attempt the next working day",
            FailedAttempt,
        ),
        ("rejected_by_receiver", "the receiver refused it", Exception),
        (
            "undelivered_wrong_address",
            "cannot be delivered today: wrong address",
            FailedAttempt,
        ),
        (
            "undelivered_incomplete_address",
            "cannot be delivered today: incomplete address",
            FailedAttempt,
        ),
        (
            "undelivered_unknown_receiver",
            "cannot be delivered today: receiver unknown",
            FailedAttempt,
        ),
        (
            "undelivered_cod_cash_receiver",
            "cannot be delivered today: the receiver had no cash for the COD amount",
            FailedAttempt,
        ),
        (
            "taken_by_courier_from_pok",
            "the courier took it from the PaczkoPunkt to an InPost branch",
            InTransit,
        ),
        (
            "undelivered",
            "handed to the warehouse of undeliverable parcels",
            Exception,
        ),
        (
            "return_pickup_confirmation_to_sender",
            "collected; the return receipt was sent to the sender",
            Delivered,
        ),
        (
            "ready_to_pickup_from_branch",
            "at an InPost branch; call the hotline about collecting it",
            AvailableForPickup,
        ),
        (
            "delay_in_delivery",
            "delivery is delayed; a new date follows",
            InTransit,
        ),
        (
            "redirect_to_box",
            "the receiver redirected the courier parcel to a Paczkomat locker",
            InTransit,
        ),
        (
            "canceled_redirect_to_box",
            "the redirect to a locker was impossible (size); delivered to the address",
            InTransit,
        ),
        (
            "readdressed",
            "redirected to another address at the receiver's request",
            InTransit,
        ),
        (
            "undelivered_no_mailbox",
            "cannot be delivered today: no mailbox",
            FailedAttempt,
        ),
        (
            "undelivered_not_live_address",
            "cannot be delivered today: the receiver does not live there",
            FailedAttempt,
        ),
        (
            "undelivered_lack_of_access_letterbox",
            "on its way back to the sender",
            Exception,
        ),
        (
            "missing",
            "no description published (\"translation missing\"); read as a lost parcel",
            Exception,
        ),
        (
            "stack_in_customer_service_point",
            "stored at a PaczkoPunkt for the receiver",
            AvailableForPickup,
        ),
        (
            "stack_parcel_pickup_time_expired",
            "storage at the PaczkoPunkt expired; waits for the courier to take it to the locker",
            InTransit,
        ),
        (
            "unstack_from_customer_service_point",
            "the courier is taking it to the Paczkomat locker",
            InTransit,
        ),
        (
            "courier_avizo_in_customer_service_point",
            "notice left at a PaczkoPunkt; returns to the sender unless collected within 3 working days",
            AvailableForPickup,
        ),
        (
            "taken_by_courier_from_customer_service_point",
            "the pickup time passed; the courier took it from the PaczkoPunkt back to the sender",
            Exception,
        ),
        (
            "stack_in_box_machine",
            "stored in a temporary Paczkomat locker for the receiver",
            AvailableForPickup,
        ),
        (
            "unstack_from_box_machine",
            "storage in the temporary locker expired; on its way to the chosen locker",
            InTransit,
        ),
        (
            "stack_parcel_in_box_machine_pickup_time_expired",
            "storage in the temporary locker expired; waits for the courier to take it to the chosen locker",
            InTransit,
        ),
    ]
};

/// A ShipX status mapped to ours by [`STATUSES`]. An unknown status (ShipX adds some every
/// year) is `INFO_RECEIVED`, counted and logged once ([`crate::normalize`]): never a scan, so
/// a status nobody has read cannot confirm fulfilment (R6), and never final, so polling
/// goes on.
pub fn normalize(status: &str) -> TrackingStatus {
    let status = status.trim();
    STATUSES
        .iter()
        .find(|(name, ..)| *name == status)
        .map(|(.., ours)| *ours)
        .unwrap_or_else(|| unknown_status(CODE, status, "", TrackingStatus::InfoReceived))
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

crate::redacting_tracking_client!(InPostClient, CODE);

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

/// The 2xx answer parser alone, for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn parse_answer(requested: &str, text: &str) -> Result<TrackReport, TrackError> {
    parse(requested, text)
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

    /// One test per ShipX status, named by the status, the expected reading written here
    /// again (not read from [`STATUSES`]) with what ShipX's description says.
    macro_rules! shipx_statuses {
        ($($name:ident => $status:ident, $meaning:literal;)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(
                        normalize(stringify!($name)),
                        TrackingStatus::$status,
                        "{}: ShipX says {:?}",
                        stringify!($name),
                        $meaning
                    );
                }
            )*

            #[test]
            fn every_documented_status_has_a_test() {
                let tested = [$(stringify!($name)),*];
                let documented: Vec<&str> = STATUSES.iter().map(|(name, ..)| *name).collect();
                assert_eq!(tested.as_slice(), documented.as_slice());
            }
        };
    }

    shipx_statuses! {
        created => InfoReceived, "created, not ready to be sent";
        offers_prepared => InfoReceived, "offers prepared";
        offer_selected => InfoReceived, "an offer was chosen";
        confirmed => InfoReceived, "ready at the sender, journey not started";
        dispatched_by_sender => InTransit, "in a locker, waiting for the courier";
        collected_from_sender => InTransit, "collected from the sender";
        taken_by_courier => InTransit, "collected, on its way";
        adopted_at_source_branch => InTransit, "at the source branch";
        sent_from_source_branch => InTransit, "between branches";
        ready_to_pickup_from_pok => AvailableForPickup, "collect at the InPost point within 3 days";
        ready_to_pickup_from_pok_registered => AvailableForPickup, "collect at the InPost point within 3 days";
        oversized => FailedAttempt, "does not fit the locker compartment";
        adopted_at_sorting_center => InTransit, "at the sorting centre";
        sent_from_sorting_center => InTransit, "on its way to the receiver's city";
        adopted_at_target_branch => InTransit, "in the receiver's city";
        out_for_delivery => OutForDelivery, "the courier is delivering";
        ready_to_pickup => AvailableForPickup, "waiting in the locker";
        pickup_reminder_sent => AvailableForPickup, "still waiting in the locker, 24 h more";
        delivered => Delivered, "the journey has ended";
        pickup_time_expired => Exception, "not collected; will be returned to the sender";
        avizo => Exception, "receiver not found again; on its way back to the sender";
        claimed => Exception, "complaint in progress";
        returned_to_sender => Exception, "on its way back to the sender";
        canceled => Cancelled, "label cancelled or expired, not sent";
        other => Exception, "unrecognised status";
        dispatched_by_sender_to_pok => InTransit, "handed to an InPost point";
        out_for_delivery_to_address => OutForDelivery, "with the courier for the address";
        pickup_reminder_sent_address => FailedAttempt, "receiver not found; next attempt next working day";
        rejected_by_receiver => Exception, "the receiver refused it";
        undelivered_wrong_address => FailedAttempt, "not delivered today: wrong address";
        undelivered_incomplete_address => FailedAttempt, "not delivered today: incomplete address";
        undelivered_unknown_receiver => FailedAttempt, "not delivered today: receiver unknown";
        undelivered_cod_cash_receiver => FailedAttempt, "not delivered today: no cash for COD";
        taken_by_courier_from_pok => InTransit, "taken from the PaczkoPunkt to a branch";
        undelivered => Exception, "to the undeliverable parcels warehouse";
        return_pickup_confirmation_to_sender => Delivered, "collected; return receipt sent to the sender";
        ready_to_pickup_from_branch => AvailableForPickup, "at a branch; call about collecting it";
        delay_in_delivery => InTransit, "delivery delayed";
        redirect_to_box => InTransit, "redirected to a locker by the receiver";
        canceled_redirect_to_box => InTransit, "redirect impossible; delivered to the address";
        readdressed => InTransit, "redirected to another address";
        undelivered_no_mailbox => FailedAttempt, "not delivered today: no mailbox";
        undelivered_not_live_address => FailedAttempt, "not delivered today: receiver does not live there";
        undelivered_lack_of_access_letterbox => Exception, "on its way back to the sender";
        missing => Exception, "no description (translation missing)";
        stack_in_customer_service_point => AvailableForPickup, "stored at a PaczkoPunkt";
        stack_parcel_pickup_time_expired => InTransit, "storage expired; to be taken on to the locker";
        unstack_from_customer_service_point => InTransit, "on its way to the locker";
        courier_avizo_in_customer_service_point => AvailableForPickup, "notice at a PaczkoPunkt, 3 working days";
        taken_by_courier_from_customer_service_point => Exception, "not collected; going back to the sender";
        stack_in_box_machine => AvailableForPickup, "stored in a temporary locker";
        unstack_from_box_machine => InTransit, "on its way to the chosen locker";
        stack_parcel_in_box_machine_pickup_time_expired => InTransit, "storage expired; to be taken on to the chosen locker";
    }

    #[test]
    fn unknown_status_is_not_a_scan() {
        assert_eq!(normalize("teleported"), TrackingStatus::InfoReceived);
    }
}
