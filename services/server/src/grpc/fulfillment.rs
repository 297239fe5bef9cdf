use diesel::PgConnection;
use fulfillment_dispatch::carrier_accounts;
use fulfillment_dispatch::dispatch;
use fulfillment_orders::Actor;
use fulfillment_orders::export::{self, ExportFilter};
use fulfillment_orders::input::{ReleaseInput, TrackingInput};
use fulfillment_orders::ship::{Plans, ShipMode, ShipOutcome, ShipRequest, ship_with_plans};
use fulfillment_orders::{bulk, feeds, merchants, queries, release};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_server::FulfillmentService;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::grpc::snapshot_stream::snapshot_stream;
use crate::state::{AppState, Begin, MerchantScoped, authorize, idempotency_key};
use crate::status::{invalid_field, to_status};

/// The export filter of a request, with wire-level checks.
fn export_filter(req: pb::ExportOrdersRequest) -> Result<ExportFilter, Status> {
    let mut states = Vec::new();
    for value in &req.states {
        states.push(convert::order_state_from_pb(*value).ok_or_else(|| {
            invalid_field("INVALID_FILTER", "states", "must be known order states")
        })?);
    }
    let time = |ts: &Option<prost_types::Timestamp>, field: &str| match ts {
        None => Ok(None),
        Some(ts) => convert::from_timestamp(ts)
            .map(Some)
            .ok_or_else(|| invalid_field("INVALID_FILTER", field, convert::TIMESTAMP_RANGE)),
    };
    Ok(ExportFilter {
        released_after: time(&req.released_after, "released_after")?,
        released_before: time(&req.released_before, "released_before")?,
        merchant_id: req.merchant_id,
        states,
        re_released_only: req.re_released_only,
        advanced_logistics_only: req.advanced_logistics_only,
    })
}

/// Longest an export may take, however slowly its reader reads.
const EXPORT_STATEMENT_TIMEOUT: &str = "SET LOCAL statement_timeout = '30min'";

pub struct FulfillmentApi {
    pub state: AppState,
}

/// The shipment a FulfillOrder, FulfillOrders or ModifyTracking request asks for: the same
/// tracking fields on each, only the order ids and the mode differ.
macro_rules! ship_request {
    ($req:ident, $order_ids:expr, $mode:expr) => {
        ShipRequest {
            merchant_id: $req.merchant_id,
            order_ids: $order_ids,
            tracking: TrackingInput {
                tracking_number: $req.tracking_number,
                carrier: $req.carrier,
                origin_country: $req.origin_country,
                channel: convert::channel($req.channel),
            },
            mode: $mode,
        }
    };
}

/// A ship RPC (FulfillOrder, FulfillOrders, ModifyTracking): the request's shipment shipped at
/// the clock's now under the policy in force (R3, R4, R10, R11), in a transaction begun on
/// generic plans (issue 21), answered by `answer`.
async fn ship_rpc<Req, Resp>(
    state: &AppState,
    (rpc, request): (&'static str, Request<Req>),
    shipment: impl FnOnce(Req) -> ShipRequest + Send + 'static,
    answer: impl FnOnce(ShipOutcome) -> Resp + Send + 'static,
) -> Result<Response<Resp>, Status>
where
    Req: prost::Message + MerchantScoped + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    let shipped = move |conn: &mut PgConnection, state: &AppState, actor: &Actor, req: Req| {
        let now = state.clock.now();
        let policy = state.policies.at(conn, now)?;
        let request = shipment(req);
        let plans = (now, Plans::GenericThroughout);
        ship_with_plans(conn, plans, &policy, actor, &request).map(answer)
    };
    let response = state
        .mutate(Begin::OnGenericPlans, rpc, request, shipped)
        .await?;
    Ok(Response::new(response))
}

#[tonic::async_trait]
impl FulfillmentService for FulfillmentApi {
    async fn upsert_merchant(
        &self,
        request: Request<pb::UpsertMerchantRequest>,
    ) -> Result<Response<pb::UpsertMerchantResponse>, Status> {
        let response = self
            .state
            .mutate(
                Begin::Plain,
                "UpsertMerchant",
                request,
                |conn, state, _actor, req| {
                    let m = req.merchant.unwrap_or_default();
                    let (merchant, created) = merchants::upsert_merchant(
                        conn,
                        state.clock.now(),
                        &m.id,
                        &m.name,
                        &m.country,
                    )?;
                    Ok(pb::UpsertMerchantResponse {
                        merchant: Some(convert::merchant(merchant)),
                        created,
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn release_order(
        &self,
        request: Request<pb::ReleaseOrderRequest>,
    ) -> Result<Response<pb::ReleaseOrderResponse>, Status> {
        let released_at = match &request.get_ref().released_at {
            None => None,
            Some(ts) => Some(convert::from_timestamp(ts).ok_or_else(|| {
                invalid_field("INVALID_ORDER", "released_at", convert::TIMESTAMP_RANGE)
            })?),
        };
        let response = self
            .state
            .mutate(
                Begin::Plain,
                "ReleaseOrder",
                request,
                move |conn, state, actor, req| {
                    let now = state.clock.now();
                    let policy = state.policies.at(conn, now)?;
                    let input = ReleaseInput {
                        order_id: req.order_id,
                        merchant_id: req.merchant_id,
                        released_at,
                        is_wish_express: req.is_wish_express,
                        is_advanced_logistics: req.is_advanced_logistics,
                        shipping_detail: req.shipping_detail.map(convert::address_from_pb),
                        customer_shipping_detail: req
                            .customer_shipping_detail
                            .map(convert::address_from_pb),
                        product_id: req.product_id,
                        product_name: req.product_name,
                        quantity: req.quantity,
                    };
                    let (view, created) =
                        release::release_order(conn, now, &policy, actor, &input)?;
                    Ok(pb::ReleaseOrderResponse {
                        order: Some(convert::order(&view)),
                        created,
                    })
                },
            )
            .await?;
        Ok(Response::new(response))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let view = self
            .state
            .read(move |conn, state| {
                queries::get_order(conn, state.clock.now(), &req.merchant_id, &req.order_id)
            })
            .await?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(convert::order(&view)),
        }))
    }

    async fn batch_get_orders(
        &self,
        request: Request<pb::BatchGetOrdersRequest>,
    ) -> Result<Response<pb::BatchGetOrdersResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (views, missing) = self
            .state
            .read(move |conn, state| {
                queries::batch_get_orders(conn, state.clock.now(), &req.merchant_id, &req.order_ids)
            })
            .await?;
        Ok(Response::new(pb::BatchGetOrdersResponse {
            orders: views.iter().map(convert::order).collect(),
            missing_order_ids: missing,
        }))
    }

    async fn list_orders_to_fulfill(
        &self,
        request: Request<pb::ListOrdersToFulfillRequest>,
    ) -> Result<Response<pb::ListOrdersToFulfillResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (views, next_page_token) = self
            .state
            .read(move |conn, state| {
                queries::list_orders_to_fulfill(
                    conn,
                    state.clock.now(),
                    &req.merchant_id,
                    req.page_size,
                    &req.page_token,
                )
            })
            .await?;
        Ok(Response::new(pb::ListOrdersToFulfillResponse {
            orders: views.iter().map(convert::order).collect(),
            next_page_token,
        }))
    }

    async fn fulfill_order(
        &self,
        request: Request<pb::FulfillOrderRequest>,
    ) -> Result<Response<pb::FulfillOrderResponse>, Status> {
        ship_rpc(
            &self.state,
            ("FulfillOrder", request),
            |req| ship_request!(req, vec![req.order_id], ShipMode::Fulfil),
            |outcome| pb::FulfillOrderResponse {
                order: outcome.orders.first().map(convert::order),
                combined_with_order_ids: outcome.combined_with,
            },
        )
        .await
    }

    async fn fulfill_orders(
        &self,
        request: Request<pb::FulfillOrdersRequest>,
    ) -> Result<Response<pb::FulfillOrdersResponse>, Status> {
        ship_rpc(
            &self.state,
            ("FulfillOrders", request),
            |req| ship_request!(req, req.order_ids, ShipMode::Fulfil),
            |outcome| pb::FulfillOrdersResponse {
                orders: outcome.orders.iter().map(convert::order).collect(),
                requirement: convert::requirement(outcome.check.requirement) as i32,
                deadline: convert::opt_timestamp(outcome.check.deadline),
            },
        )
        .await
    }

    async fn modify_tracking(
        &self,
        request: Request<pb::ModifyTrackingRequest>,
    ) -> Result<Response<pb::ModifyTrackingResponse>, Status> {
        ship_rpc(
            &self.state,
            ("ModifyTracking", request),
            |req| ship_request!(req, vec![req.order_id], ShipMode::ModifyTracking),
            |outcome| pb::ModifyTrackingResponse {
                order: outcome.orders.first().map(convert::order),
                previous_tracking: outcome.previous.as_ref().map(convert::order_tracking),
            },
        )
        .await
    }

    type ExportOrdersStream = BoxStream<pb::ExportOrdersResponse>;

    async fn export_orders(
        &self,
        request: Request<pb::ExportOrdersRequest>,
    ) -> Result<Response<Self::ExportOrdersStream>, Status> {
        authorize(&request)?;
        let filter = export_filter(request.into_inner())?;
        // A bad filter or an unknown merchant is refused before the stream starts.
        let checked = filter.clone();
        let now = self.state.clock.now();
        let policy = self
            .state
            .read(move |conn, state| {
                let policy = state.policies.at(conn, now)?;
                export::check_filter(conn, &policy.values, &checked)?;
                Ok(policy)
            })
            .await?;
        let stream = snapshot_stream(&self.state, EXPORT_STATEMENT_TIMEOUT, move |conn, sink| {
            export::export_orders(conn, now, &policy.values, &filter, |chunk| {
                sink(pb::ExportOrdersResponse { chunk })
            })
            .map(|_| ())
        });
        Ok(Response::new(stream))
    }

    async fn start_bulk_fulfillment(
        &self,
        request: Request<pb::StartBulkFulfillmentRequest>,
    ) -> Result<Response<pb::StartBulkFulfillmentResponse>, Status> {
        let response = self
            .state
            .mutate(
                Begin::Plain,
                "StartBulkFulfillment",
                request,
                |conn, state, actor, req| {
                    let job = bulk::start(
                        conn,
                        state.clock.now(),
                        actor,
                        &req.merchant_id,
                        &req.file_name,
                        &req.csv,
                        state.bulk.limits,
                    )?;
                    Ok(pb::StartBulkFulfillmentResponse {
                        job: Some(convert::bulk_job(job)),
                    })
                },
            )
            .await?;
        self.state.bulk.wake.notify_one();
        Ok(Response::new(response))
    }

    async fn get_bulk_job(
        &self,
        request: Request<pb::GetBulkJobRequest>,
    ) -> Result<Response<pb::GetBulkJobResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (job, rows, next_page_token) = self
            .state
            .read(move |conn, _| {
                bulk::get_with_rows(
                    conn,
                    &req.merchant_id,
                    &req.job_id,
                    req.page_size,
                    &req.page_token,
                )
            })
            .await?;
        Ok(Response::new(pb::GetBulkJobResponse {
            job: Some(convert::bulk_job(job)),
            rows: rows.into_iter().map(convert::bulk_job_row).collect(),
            next_page_token,
        }))
    }

    type DownloadBulkJobResultsStream = BoxStream<pb::DownloadBulkJobResultsResponse>;

    async fn download_bulk_job_results(
        &self,
        request: Request<pb::DownloadBulkJobResultsRequest>,
    ) -> Result<Response<Self::DownloadBulkJobResultsStream>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (merchant_id, job_id) = (req.merchant_id.clone(), req.job_id.clone());
        self.state
            .read(move |conn, _| bulk::get(conn, &merchant_id, &job_id))
            .await?;
        let stream = snapshot_stream(&self.state, EXPORT_STATEMENT_TIMEOUT, move |conn, sink| {
            bulk::rows_csv(conn, &req.merchant_id, &req.job_id, |chunk| {
                sink(pb::DownloadBulkJobResultsResponse { chunk })
            })
        });
        Ok(Response::new(stream))
    }

    async fn list_bulk_jobs(
        &self,
        request: Request<pb::ListBulkJobsRequest>,
    ) -> Result<Response<pb::ListBulkJobsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (jobs, next_page_token) = self
            .state
            .read(move |conn, _| bulk::list(conn, &req.merchant_id, req.page_size, &req.page_token))
            .await?;
        Ok(Response::new(pb::ListBulkJobsResponse {
            jobs: jobs.into_iter().map(convert::bulk_job).collect(),
            next_page_token,
        }))
    }

    async fn list_outbox_events(
        &self,
        request: Request<pb::ListOutboxEventsRequest>,
    ) -> Result<Response<pb::ListOutboxEventsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (events, next) = self
            .state
            .read(move |conn, _| {
                feeds::list_outbox(
                    conn,
                    &req.event_types,
                    req.page_size,
                    &req.page_token,
                    &req.consumer,
                )
            })
            .await?;
        Ok(Response::new(pb::ListOutboxEventsResponse {
            events: events.into_iter().map(convert::outbox_event).collect(),
            next_page_token: next,
        }))
    }

    async fn list_worker_runs(
        &self,
        request: Request<pb::ListWorkerRunsRequest>,
    ) -> Result<Response<pb::ListWorkerRunsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let (runs, next) = self
            .state
            .read(move |conn, _| {
                feeds::list_worker_runs(conn, &req.worker, req.page_size, &req.page_token)
            })
            .await?;
        Ok(Response::new(pb::ListWorkerRunsResponse {
            runs: runs.into_iter().map(convert::worker_run).collect(),
            next_page_token: next,
        }))
    }

    async fn connect_carrier_account(
        &self,
        request: Request<pb::ConnectCarrierAccountRequest>,
    ) -> Result<Response<pb::ConnectCarrierAccountResponse>, Status> {
        let caller = authorize(&request)?;
        let req = request.into_inner();
        let settings = convert::account_settings(req.settings);
        let (account, _created) = self
            .state
            .change(&caller, move |conn, state, actor| {
                carrier_accounts::connect(
                    conn,
                    state.clock.now(),
                    state.keys.as_deref(),
                    actor,
                    &req.merchant_id,
                    settings.as_ref(),
                )
            })
            .await?;
        Ok(Response::new(pb::ConnectCarrierAccountResponse {
            account: Some(convert::carrier_account(account)),
        }))
    }

    async fn list_carrier_accounts(
        &self,
        request: Request<pb::ListCarrierAccountsRequest>,
    ) -> Result<Response<pb::ListCarrierAccountsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let accounts = self
            .state
            .read(move |conn, _state| carrier_accounts::list(conn, &req.merchant_id))
            .await?;
        Ok(Response::new(pb::ListCarrierAccountsResponse {
            accounts: accounts.into_iter().map(convert::carrier_account).collect(),
        }))
    }

    async fn disconnect_carrier_account(
        &self,
        request: Request<pb::DisconnectCarrierAccountRequest>,
    ) -> Result<Response<pb::DisconnectCarrierAccountResponse>, Status> {
        let caller = authorize(&request)?;
        let req = request.into_inner();
        self.state
            .change(&caller, move |conn, state, actor| {
                carrier_accounts::disconnect(
                    conn,
                    state.clock.now(),
                    actor,
                    &req.merchant_id,
                    &req.account_id,
                )
            })
            .await?;
        Ok(Response::new(pb::DisconnectCarrierAccountResponse {}))
    }

    async fn create_shipments(
        &self,
        request: Request<pb::CreateShipmentsRequest>,
    ) -> Result<Response<pb::CreateShipmentsResponse>, Status> {
        let caller = authorize(&request)?;
        // The key makes a retry answer with the shipments the first call created (R20).
        let request_key = idempotency_key(&request)?.map(|key| format!("{}:{key}", caller.id));
        let ctx = self.state.dispatch_context();
        let req = convert::create_shipments(request.into_inner(), request_key);
        let results = dispatch::create_shipments(&ctx, &Actor::api(&caller.id), req)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateShipmentsResponse {
            results: results.into_iter().map(convert::shipment_result).collect(),
        }))
    }

    async fn get_labels(
        &self,
        request: Request<pb::GetLabelsRequest>,
    ) -> Result<Response<pb::GetLabelsResponse>, Status> {
        authorize(&request)?;
        let req = request.into_inner();
        let ctx = self.state.dispatch_context();
        let labels = dispatch::get_labels(&ctx, &req.merchant_id, &req.order_ids)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::labels(labels)))
    }
}
