use fulfillment_carriers::normalize::normalize;
use fulfillment_core::Violations;
use fulfillment_policy::tracking_number::{Channel, validate_tracking_number};
use fulfillment_policy::tracking_status::CarrierEvent;
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::tracking_service_server::TrackingService;
use fulfillment_tracking::intelipost::{self, IntegrationView};
use fulfillment_tracking::tracking::{
    self, IncomingEvent, Lookup, MAX_EVENTS_PER_BATCH, Source, StuckReason, TrackingDetail,
};
use tonic::{Request, Response, Status};

use crate::convert;
use crate::state::{AppState, authorize};
use crate::status::to_status;

pub struct TrackingApi {
    pub state: AppState,
}

fn tracking(detail: TrackingDetail) -> pb::Tracking {
    let t = detail.tracking;
    pb::Tracking {
        carrier: t.carrier,
        tracking_number: t.tracking_number,
        status: convert::tracking_status(&t.status) as i32,
        checkpoints: detail
            .events
            .into_iter()
            .map(|e| pb::Checkpoint {
                occurred_at: Some(convert::timestamp(e.occurred_at)),
                status: convert::tracking_status(&e.status) as i32,
                carrier_status_code: e.carrier_status_code,
                carrier_status_text: e.carrier_status_text,
                location: e.location,
            })
            .collect(),
        confirmed_fulfillment_at: convert::opt_timestamp(t.confirmed_fulfillment_at),
        delivered_at: convert::opt_timestamp(t.delivered_at),
        cancelled_at: convert::opt_timestamp(t.cancelled_at),
        cancelled_by: convert::pb_cancelled_by(t.cancelled_by.as_deref()) as i32,
        order_ids: detail.order_ids,
    }
}

fn integration(view: IntegrationView) -> pb::IntelipostIntegration {
    pb::IntelipostIntegration {
        merchant_id: view.merchant_id,
        username: view.username,
        connected: view.connected,
        updated_at: Some(convert::timestamp(view.updated_at)),
        last_push_at: convert::opt_timestamp(view.last_push_at),
    }
}

/// A (carrier, number) key as stored: the carrier's code and the normalised number (R3). The
/// number is validated loosely (any carrier format, any channel), since lookups and events may
/// name numbers entered by API.
fn tracking_key(
    v: &mut Violations,
    field: &str,
    carrier: &str,
    number: &str,
) -> Option<(String, String)> {
    match validate_tracking_number(carrier, number, Channel::Api) {
        Ok(valid) => Some((valid.carrier.to_owned(), valid.tracking_number)),
        Err(e) => {
            v.add(format!("{field}.{}", e.field()), e.to_string());
            None
        }
    }
}

/// Checks and converts the events of an ingest request, naming every bad field.
fn incoming_events(events: Vec<pb::TrackingEvent>) -> Result<Vec<IncomingEvent>, Status> {
    let mut v = Violations::new();
    if events.is_empty() {
        v.add("events", "is required");
    } else if events.len() > MAX_EVENTS_PER_BATCH {
        v.add(
            "events",
            format!("at most {MAX_EVENTS_PER_BATCH} events per call"),
        );
    }
    let mut incoming = Vec::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let key = tracking_key(
            &mut v,
            &format!("events[{i}]"),
            &e.carrier,
            &e.tracking_number,
        );
        let occurred_at = match e.occurred_at.as_ref() {
            None => {
                v.add(format!("events[{i}].occurred_at"), "is required");
                None
            }
            Some(ts) => {
                let at = convert::from_timestamp(ts);
                if at.is_none() {
                    v.add(format!("events[{i}].occurred_at"), convert::TIMESTAMP_RANGE);
                }
                at
            }
        };
        if e.carrier_status_code.trim().is_empty() {
            v.add(
                format!("events[{i}].carrier_status_code"),
                "is required: the carrier's own status code is what the status is derived from",
            );
        }
        let (Some((carrier, tracking_number)), Some(occurred_at)) = (key, occurred_at) else {
            continue;
        };
        // R21: the normalised status is derived in one place, from the carrier's own code.
        let status = normalize(&carrier, &e.carrier_status_code, &e.carrier_status_text);
        let event = IncomingEvent::new(
            carrier,
            tracking_number,
            CarrierEvent {
                event_id: (!e.event_id.is_empty()).then_some(e.event_id),
                occurred_at,
                status,
                carrier_status_code: e.carrier_status_code,
                carrier_status_text: e.carrier_status_text,
                location: e.location,
                raw_payload: e.raw_payload,
            },
        );
        event.check(&mut v, i);
        incoming.push(event);
    }
    v.finish("INVALID_EVENTS").map_err(to_status)?;
    Ok(incoming)
}

#[tonic::async_trait]
impl TrackingService for TrackingApi {
    async fn get_tracking(
        &self,
        request: Request<pb::GetTrackingRequest>,
    ) -> Result<Response<pb::GetTrackingResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let lookup = match req.lookup {
            None => {
                v.add(
                    "lookup",
                    "give key (carrier and tracking_number) or order_id",
                );
                None
            }
            Some(pb::get_tracking_request::Lookup::Key(key)) => {
                tracking_key(&mut v, "key", &key.carrier, &key.tracking_number).map(
                    |(carrier, tracking_number)| Lookup::Key {
                        carrier,
                        tracking_number,
                    },
                )
            }
            Some(pb::get_tracking_request::Lookup::OrderId(id)) => {
                fulfillment_core::input::check_id(&mut v, "order_id", &id);
                Some(Lookup::Order(id))
            }
        };
        if !req.merchant_id.is_empty() {
            fulfillment_core::input::check_id(&mut v, "merchant_id", &req.merchant_id);
        }
        v.finish("INVALID_REQUEST").map_err(to_status)?;
        let Some(lookup) = lookup else {
            return Err(Status::internal("lookup checked above"));
        };
        let detail = self
            .state
            .read(move |conn, _| tracking::get_tracking(conn, &req.merchant_id, &lookup))
            .await?;
        Ok(Response::new(pb::GetTrackingResponse {
            tracking: Some(tracking(detail)),
        }))
    }

    async fn ingest_tracking_events(
        &self,
        request: Request<pb::IngestTrackingEventsRequest>,
    ) -> Result<Response<pb::IngestTrackingEventsResponse>, Status> {
        let caller = authorize(&request)?;
        let events = incoming_events(request.into_inner().events)?;
        // Idempotent by itself (R22: event keys), so no idempotency-key bookkeeping.
        let outcome = self
            .state
            .change(&caller, move |conn, state, actor| {
                tracking::ingest(
                    conn,
                    state.clock.now(),
                    actor,
                    Source::Push,
                    &events,
                    None,
                    None,
                )
            })
            .await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::IngestTrackingEventsResponse {
            accepted: count(outcome.accepted),
            duplicates: count(outcome.duplicates),
            unknown_trackings: count(outcome.unknown_trackings),
        }))
    }

    async fn cancel_tracking(
        &self,
        request: Request<pb::CancelTrackingRequest>,
    ) -> Result<Response<pb::CancelTrackingResponse>, Status> {
        let caller = authorize(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = match &req.key {
            None => {
                v.add("key", "is required");
                None
            }
            Some(key) => tracking_key(&mut v, "key", &key.carrier, &key.tracking_number),
        };
        let by = match convert::cancelled_by(req.cancelled_by) {
            Some(by) => Some(by),
            None => {
                v.add(
                    "cancelled_by",
                    "must be CANCELLED_BY_MERCHANT or CANCELLED_BY_CARRIER (R18 depends on who cancelled)",
                );
                None
            }
        };
        let at = match req.cancelled_at.as_ref() {
            None => None,
            Some(ts) => {
                let at = convert::from_timestamp(ts);
                if at.is_none() {
                    v.add("cancelled_at", convert::TIMESTAMP_RANGE);
                }
                at
            }
        };
        v.finish("INVALID_REQUEST").map_err(to_status)?;
        let (Some((carrier, number)), Some(by)) = (key, by) else {
            return Err(Status::internal("fields checked above"));
        };
        let detail = self
            .state
            .change(&caller, move |conn, state, actor| {
                let now = state.clock.now();
                tracking::cancel(conn, now, actor, &carrier, &number, by, at.unwrap_or(now))
            })
            .await?;
        Ok(Response::new(pb::CancelTrackingResponse {
            tracking: Some(tracking(detail)),
        }))
    }

    async fn list_stuck_trackings(
        &self,
        request: Request<pb::ListStuckTrackingsRequest>,
    ) -> Result<Response<pb::ListStuckTrackingsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (stuck, next) = self
            .state
            .read(move |conn, _| {
                tracking::list_stuck(conn, &req.merchant_id, req.page_size, &req.page_token)
            })
            .await?;
        Ok(Response::new(pb::ListStuckTrackingsResponse {
            stuck: stuck
                .into_iter()
                .map(|s| pb::StuckTracking {
                    order_id: s.order_id,
                    key: Some(pb::TrackingKey {
                        carrier: s.carrier,
                        tracking_number: s.tracking_number,
                    }),
                    shipped_at: Some(convert::timestamp(s.shipped_at)),
                    reason: match s.reason {
                        StuckReason::IntelipostNotConnected => {
                            pb::StuckReason::IntelipostNotConnected
                        }
                        StuckReason::UnresolvedCarrierNumber => {
                            pb::StuckReason::UnresolvedCarrierNumber
                        }
                        StuckReason::NoCarrierScan => pb::StuckReason::NoCarrierScan,
                    } as i32,
                    message: s.message,
                })
                .collect(),
            next_page_token: next,
        }))
    }

    async fn set_intelipost_integration(
        &self,
        request: Request<pb::SetIntelipostIntegrationRequest>,
    ) -> Result<Response<pb::SetIntelipostIntegrationResponse>, Status> {
        let caller = authorize(&request)?;
        let req = request.into_inner();
        // `change`, not `mutate`: the request carries a password, whose hash must not be kept
        // as an idempotency fingerprint. Setting the same state twice is harmless.
        let view = self
            .state
            .change(&caller, move |conn, state, actor| {
                intelipost::set_integration(
                    conn,
                    state.clock.now(),
                    actor,
                    &req.merchant_id,
                    &req.username,
                    &req.password,
                    req.connected,
                )
            })
            .await?;
        Ok(Response::new(pb::SetIntelipostIntegrationResponse {
            integration: Some(integration(view)),
        }))
    }
}
