//! Carrier dispatch (R19, R20): creating shipments with a merchant's carrier account and marking
//! the orders shipped with the tracking numbers the carrier returns, and their labels.
//!
//! Each order goes its own way, in three steps, so that a shipment the carrier created is never
//! lost and never created twice by a retry:
//!
//! 1. a short transaction locks the order, decides (ship, skip, reconcile) and records the
//!    attempt (`shipments` row `REQUESTED`, leased to this call) before anything is sent;
//! 2. the carrier is called outside any transaction, and its answer (ids, tracking number) is
//!    written to the attempt at once;
//! 3. a transaction marks the order shipped through [`fulfillment_orders::ship::ship`] (the `FulfillOrder`
//!    path, R3: tracking, audit row, customer notification) and the attempt `CREATED`.
//!
//! If step 3 fails, the attempt keeps the carrier's ids and the next call applies them without
//! calling the carrier. If the carrier's answer is unknown (a timeout), the attempt stays open
//! and the next call sends it again with the same reference (see docs/dispatch.md for what the
//! carriers do with a repeated reference).
//!
//! The steps live in `decide` (1), `answer` (2) and `apply` (3); `request` checks a call and
//! builds what a carrier gets; `carrier` holds the clients and what their errors mean; `labels`
//! is GetLabels.

mod answer;
mod apply;
mod carrier;
mod decide;
mod labels;
mod request;

use std::collections::BTreeMap;
use std::sync::Arc;

use fulfillment_core::models::Address;
use fulfillment_core::repo::shipments::ShipmentRow;
use fulfillment_core::secrets::Keyring;
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use carrier::{DispatchConfig, INPOST_URL, PACZKA_W_RUCHU_URL, POCZTA_POLSKA_URL};
pub use fulfillment_carriers::dispatch::ShipmentType;
pub use labels::{LabelProblem, Labels, MAX_ORDERS_PER_LABELS_CALL, OrderLabel, get_labels};

use answer::{record_answer, resume};
use apply::apply;
use carrier::{CarrierClient, load_client};
use decide::begin;
use fulfillment_core::input::Actor;
use fulfillment_orders::PolicyStore;
use request::{shipment_request, validate};

/// Most orders one CreateShipments call may name.
pub const MAX_ORDERS_PER_CALL: usize = 500;
/// Where the parcels leave from unless the sender says otherwise: the three carriers are Polish.
const DEFAULT_ORIGIN_COUNTRY: &str = "PL";

/// What dispatch needs of the server.
#[derive(Clone)]
pub struct DispatchContext {
    pub db: Db,
    pub clock: SharedClock,
    pub policies: Arc<PolicyStore>,
    pub keys: Option<Arc<Keyring>>,
    pub config: DispatchConfig,
}

/// A CreateShipments request.
#[derive(Debug, Clone)]
pub struct CreateShipments {
    pub merchant_id: String,
    pub account_id: String,
    pub order_ids: Vec<String>,
    pub confirm_recreate: bool,
    /// Empty: the account's default.
    pub size: String,
    /// 0: not given.
    pub weight_grams: u32,
    /// `None`: the caller sent a shipment type we do not know.
    pub shipment_type: Option<ShipmentType>,
    /// The pickup point or locker each buyer chose, by order id.
    pub target_points: BTreeMap<String, String>,
    pub sender: Option<Address>,
    pub sender_email: String,
    /// `caller:idempotency-key` when the call carried one: a retry with it answers with the
    /// shipments it created instead of creating others.
    pub request_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Skipped,
    Failed,
}

/// What happened to one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentResult {
    pub order_id: String,
    pub outcome: Outcome,
    /// Our shipment id; empty when nothing was attempted.
    pub shipment_id: String,
    pub carrier: String,
    pub carrier_shipment_id: String,
    pub tracking_number: String,
    /// Stable code of a skip or failure.
    pub reason: String,
    pub message: String,
}

impl ShipmentResult {
    fn failed(order_id: &str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            order_id: order_id.to_owned(),
            outcome: Outcome::Failed,
            shipment_id: String::new(),
            carrier: String::new(),
            carrier_shipment_id: String::new(),
            tracking_number: String::new(),
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn of(row: &ShipmentRow, outcome: Outcome, reason: &str, message: impl Into<String>) -> Self {
        Self {
            order_id: row.order_id.clone(),
            outcome,
            shipment_id: row.id.clone(),
            carrier: row.carrier.clone(),
            carrier_shipment_id: row.carrier_shipment_id.clone().unwrap_or_default(),
            tracking_number: row.tracking_number.clone().unwrap_or_default(),
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    fn created(row: &ShipmentRow) -> Self {
        Self::of(row, Outcome::Created, "", "")
    }

    fn skipped(mut self) -> Self {
        self.outcome = Outcome::Skipped;
        self
    }
}

/// Creates a shipment for each order with the carrier account and marks the orders shipped
/// (R20), each independently; answers one result per order, in the order requested.
///
/// The work runs to its end even if the caller goes away (a cancelled call must not drop a
/// carrier's answer on the floor). The request as a whole is refused only when it is malformed
/// or its account cannot be used.
pub async fn create_shipments(
    ctx: &DispatchContext,
    actor: &Actor,
    request: CreateShipments,
) -> ServiceResult<Vec<ShipmentResult>> {
    validate(&request)?;
    let span = tracing::info_span!(
        "create_shipments",
        merchant = %request.merchant_id,
        account = %request.account_id,
        orders = request.order_ids.len(),
    );
    let ctx = ctx.clone();
    let actor = actor.clone();
    tokio::spawn(async move { run(ctx, actor, request).await }.instrument(span))
        .await
        .map_err(ServiceError::internal)?
}

/// The account's client and carrier, shared by every order of a call.
struct Account {
    id: String,
    carrier: String,
    client: CarrierClient,
}

async fn run(
    ctx: DispatchContext,
    actor: Actor,
    request: CreateShipments,
) -> ServiceResult<Vec<ShipmentResult>> {
    let account = {
        let (keys, config) = (ctx.keys.clone(), ctx.config.clone());
        let (merchant_id, account_id) = (request.merchant_id.clone(), request.account_id.clone());
        let (client, carrier) = ctx
            .db
            .transaction(move |conn| {
                load_client(conn, keys.as_deref(), &config, &merchant_id, &account_id)
            })
            .await?;
        Arc::new(Account {
            id: request.account_id.clone(),
            carrier,
            client,
        })
    };
    let request = Arc::new(request);
    let permits = Arc::new(Semaphore::new(ctx.config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, order_id) in request.order_ids.iter().enumerate() {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(ServiceError::internal)?;
        let (ctx, actor, request, account) = (
            ctx.clone(),
            actor.clone(),
            Arc::clone(&request),
            Arc::clone(&account),
        );
        let order_id = order_id.clone();
        tasks.spawn(
            async move {
                let result = dispatch_order(&ctx, &actor, &request, &account, &order_id).await;
                drop(permit);
                (index, result)
            }
            .in_current_span(),
        );
    }
    let mut results: Vec<Option<ShipmentResult>> = vec![None; request.order_ids.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.map_err(ServiceError::internal)?;
        tracing::info!(
            order = %result.order_id,
            carrier = %result.carrier,
            shipment = %result.shipment_id,
            outcome = ?result.outcome,
            reason = %result.reason,
            "dispatch result"
        );
        results[index] = Some(result);
    }
    Ok(results.into_iter().flatten().collect())
}

/// What to do for one order, decided with the order locked.
enum Step {
    /// Answered without talking to the carrier.
    Done(ShipmentResult),
    /// Send to the carrier: a new attempt, or one whose outcome is unknown.
    Send {
        shipment: ShipmentRow,
        receiver: Address,
    },
    /// The carrier has the shipment without a tracking number yet: ask it again.
    Resume(ShipmentRow),
    /// The carrier answered: mark the order shipped with it.
    Apply(ShipmentRow),
}

async fn dispatch_order(
    ctx: &DispatchContext,
    actor: &Actor,
    request: &Arc<CreateShipments>,
    account: &Arc<Account>,
    order_id: &str,
) -> ShipmentResult {
    let step = {
        let (request, account) = (Arc::clone(request), Arc::clone(account));
        let order = order_id.to_owned();
        let now = ctx.clock.now();
        let lease_until = now + ctx.config.lease();
        ctx.db
            .transaction(move |conn| {
                begin(
                    conn,
                    now,
                    lease_until,
                    &request,
                    (&account.id, &account.carrier),
                    &order,
                )
            })
            .await
    };
    let step = match step {
        Ok(step) => step,
        Err(e) => return database_failure(order_id, "deciding", &e),
    };
    let shipment = match step {
        Step::Done(result) => return result,
        Step::Apply(shipment) => shipment,
        Step::Send { shipment, receiver } => {
            let answer = account
                .client
                .create(&shipment_request(request, &shipment, &receiver))
                .await;
            match record_answer(ctx, &shipment, answer).await {
                Ok(shipment) => shipment,
                Err(result) => return *result,
            }
        }
        Step::Resume(shipment) => {
            let answer = resume(ctx, request, account, &shipment).await;
            match record_answer(ctx, &shipment, answer).await {
                Ok(shipment) => shipment,
                Err(result) => return *result,
            }
        }
    };
    apply(ctx, actor, request, shipment).await
}

/// An order's result when our own database let us down; the details go to the log.
fn database_failure(order_id: &str, doing: &str, error: &ServiceError) -> ShipmentResult {
    match error {
        ServiceError::Internal(_) | ServiceError::Unavailable(_) => {
            tracing::error!(order = %order_id, error = ?error, "dispatch failed while {doing}");
            ShipmentResult::failed(
                order_id,
                error.reason(),
                format!("dispatch failed while {doing}: {error}; retry"),
            )
        }
        other => ShipmentResult::failed(order_id, other.reason(), other.to_string()),
    }
}
