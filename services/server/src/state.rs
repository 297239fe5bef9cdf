//! What every RPC handler shares, and the idempotent-transaction helper.

use std::sync::Arc;

use diesel::PgConnection;
use fulfillment_core::repo::idempotency::{self, Claim};
use fulfillment_core::secrets::Keyring;
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock};
use fulfillment_orders::{Actor, PolicyStore};
use fulfillment_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

use crate::auth::Caller;
use crate::bulk::BulkConfig;
use crate::status::{invalid_field, to_status};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub policies: Arc<PolicyStore>,
    /// Seals carrier credentials; `None` until configured (carrier accounts are then refused).
    pub keys: Option<Arc<Keyring>>,
    /// CSV upload limits and the bulk job processors (R7).
    pub bulk: BulkConfig,
    /// Where the carriers' dispatch services are (R20); production endpoints by default.
    pub dispatch: fulfillment_dispatch::dispatch::DispatchConfig,
    /// How long idempotency keys are remembered, and how often expired ones are removed.
    pub idempotency: crate::idempotency_purge::Retention,
    /// What `/metrics` serves.
    pub metrics: crate::metrics::SharedMetrics,
}

/// A request that may name the merchant it acts for. `None`: the request is not about one
/// merchant's data (policies, platform bookkeeping).
pub trait MerchantScoped {
    fn merchant_id(&self) -> Option<&str>;
}

macro_rules! merchant_scoped {
    ($($request:ty),* $(,)?) => {
        $(impl MerchantScoped for $request {
            fn merchant_id(&self) -> Option<&str> {
                Some(&self.merchant_id)
            }
        })*
    };
}

macro_rules! not_merchant_scoped {
    ($($request:ty),* $(,)?) => {
        $(impl MerchantScoped for $request {
            fn merchant_id(&self) -> Option<&str> {
                None
            }
        })*
    };
}

merchant_scoped!(
    pb::ReleaseOrderRequest,
    pb::GetOrderRequest,
    pb::BatchGetOrdersRequest,
    pb::ListOrdersToFulfillRequest,
    pb::FulfillOrderRequest,
    pb::FulfillOrdersRequest,
    pb::ModifyTrackingRequest,
    pb::ExportOrdersRequest,
    pb::StartBulkFulfillmentRequest,
    pb::GetBulkJobRequest,
    pb::DownloadBulkJobResultsRequest,
    pb::ListBulkJobsRequest,
    pb::ConnectCarrierAccountRequest,
    pb::ListCarrierAccountsRequest,
    pb::DisconnectCarrierAccountRequest,
    pb::CreateShipmentsRequest,
    pb::GetLabelsRequest,
    pb::EvaluateOrderRequest,
    pb::CheckCombinedShipmentRequest,
    pb::DecideCancellationRequest,
    pb::GetTrackingRequest,
    pb::ListStuckTrackingsRequest,
    pb::SetIntelipostIntegrationRequest,
);

not_merchant_scoped!(
    pb::ListOutboxEventsRequest,
    pb::ListWorkerRunsRequest,
    pb::GetPolicyRequest,
    pb::IngestTrackingEventsRequest,
    pb::CancelTrackingRequest,
    // Policy versions and simulations are platform-wide, not one merchant's data.
    pb::PublishPolicyVersionRequest,
    pb::ListPolicyVersionsRequest,
    pb::SimulatePolicyRequest,
);

impl MerchantScoped for pb::UpsertMerchantRequest {
    fn merchant_id(&self) -> Option<&str> {
        Some(self.merchant.as_ref().map_or("", |m| m.id.as_str()))
    }
}

/// The caller the gate admitted, checked against the merchant the request names. Every
/// handler starts here; without the gate's mark the call is refused (fail closed).
pub fn authorize<T: MerchantScoped>(request: &Request<T>) -> Result<Caller, Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            to_status(ServiceError::unauthenticated(
                "TOKEN_MISSING",
                "the call did not pass authentication",
            ))
        })?;
    if let Some(merchant_id) = request.get_ref().merchant_id() {
        caller.check_merchant(merchant_id).map_err(to_status)?;
    }
    Ok(caller)
}

/// The caller's `idempotency-key` metadata, if any: 1 to 255 visible ASCII characters.
pub fn idempotency_key<T>(request: &Request<T>) -> Result<Option<String>, Status> {
    let Some(value) = request.metadata().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => Ok(Some(key.to_owned())),
        _ => Err(invalid_field(
            "IDEMPOTENCY_KEY_INVALID",
            IDEMPOTENCY_KEY,
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

impl AppState {
    /// What the carriers' dispatch needs of the server's state (R20).
    pub fn dispatch_context(&self) -> fulfillment_dispatch::dispatch::DispatchContext {
        fulfillment_dispatch::dispatch::DispatchContext {
            db: self.db.clone(),
            clock: self.clock.clone(),
            policies: self.policies.clone(),
            keys: self.keys.clone(),
            config: self.dispatch.clone(),
        }
    }

    /// Runs `f` in one transaction and maps its error once.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Status>
    where
        F: FnOnce(&mut PgConnection, &AppState) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        self.db
            .transaction(move |conn| f(conn, &state))
            .await
            .map_err(to_status)
    }

    /// Runs a change that is idempotent by itself (no `idempotency-key` bookkeeping: its
    /// request may carry secrets, whose hash must not be stored) in one transaction.
    pub async fn change<T, F>(&self, caller: &Caller, f: F) -> Result<T, Status>
    where
        F: FnOnce(&mut PgConnection, &AppState, &Actor) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let actor = Actor::api(&caller.id);
        let state = self.clone();
        self.db
            .transaction(move |conn| f(conn, &state, &actor))
            .await
            .map_err(to_status)
    }

    /// Runs a mutation in one transaction, honouring the `idempotency-key` metadata: the first
    /// call's response is stored with the change; a replay with the same request returns it;
    /// the same key with a different request is refused.
    pub async fn mutate<Req, Resp, F>(
        &self,
        begin: Begin,
        rpc: &'static str,
        request: Request<Req>,
        f: F,
    ) -> Result<Resp, Status>
    where
        Req: Message + MerchantScoped + Send + 'static,
        Resp: Message + Default + Send + 'static,
        F: FnOnce(&mut PgConnection, &AppState, &Actor, Req) -> ServiceResult<Resp>
            + Send
            + 'static,
    {
        let caller = authorize(&request)?.id;
        let key = idempotency_key(&request)?;
        let message = request.into_inner();
        let mut hasher = Sha256::new();
        hasher.update(rpc.as_bytes());
        hasher.update(message.encode_to_vec());
        let hash = hasher.finalize().to_vec();
        let actor = Actor::api(&caller);
        let state = self.clone();
        let call = move |conn: &mut PgConnection| {
            let Some(key) = key else {
                return f(conn, &state, &actor, message);
            };
            let now = state.clock.now();
            let expired_before = state.idempotency.expired_before(now);
            match idempotency::claim(conn, &caller, &key, rpc, &hash, now, expired_before)? {
                Claim::New => {
                    let response = f(conn, &state, &actor, message)?;
                    idempotency::complete(conn, &caller, &key, &response.encode_to_vec())?;
                    Ok(response)
                }
                Claim::Replay(bytes) => {
                    Resp::decode(bytes.as_slice()).map_err(ServiceError::internal)
                }
                Claim::Mismatch { rpc: first_rpc } => Err(ServiceError::precondition(
                    "IDEMPOTENCY_KEY_REUSED",
                    format!(
                        "idempotency key {key:?} was first used for a different {first_rpc} request; use a new key"
                    ),
                )),
            }
        };
        match begin {
            Begin::Plain => self.db.transaction(call).await,
            Begin::OnGenericPlans => self.db.transaction_on_generic_plans(call).await,
        }
        .map_err(to_status)
    }
}

/// How a mutation's transaction begins.
#[derive(Debug, Clone, Copy)]
pub enum Begin {
    /// `BEGIN`.
    Plain,
    /// `BEGIN` on generic plans, in the same round trip (issue 21): for the ship RPCs only,
    /// whose `f` is `ship_with_plans(.., Plans::GenericThroughout, ..)` and after which only
    /// the idempotency record (a primary-key update) runs.
    OnGenericPlans,
}
