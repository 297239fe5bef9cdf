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

mod carrier;
mod labels;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use fulfillment_carriers::dispatch::{CreatedShipment, DispatchError, ShipmentRequest};
use fulfillment_core::models::{Address, Order};
use fulfillment_core::repo::shipments::{self as repo, NewShipment, ShipmentRow};
use fulfillment_core::secrets::{Keyring, random_id};
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock, Violations};
use fulfillment_policy::order_state::OrderState;
use fulfillment_policy::shipment::{self as shipment_rule, ShipmentFacts};
use fulfillment_policy::tracking_number::Channel;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use carrier::{DispatchConfig, INPOST_URL, PACZKA_W_RUCHU_URL, POCZTA_POLSKA_URL};
pub use fulfillment_carriers::dispatch::ShipmentType;
pub use labels::{LabelProblem, Labels, MAX_ORDERS_PER_LABELS_CALL, OrderLabel, get_labels};

use carrier::{CarrierClient, Disposition, contact, failure, load_client};
use fulfillment_core::input::{Actor, check_id};
use fulfillment_orders::PolicyStore;
use fulfillment_orders::input::{TrackingInput, check_address};
use fulfillment_orders::ship::{ShipMode, ShipRequest, ship};

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

fn validate(req: &CreateShipments) -> ServiceResult<()> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", &req.merchant_id);
    check_id(&mut v, "account_id", &req.account_id);
    if req.order_ids.is_empty() {
        v.add("order_ids", "is required");
    } else if req.order_ids.len() > MAX_ORDERS_PER_CALL {
        v.add(
            "order_ids",
            format!("at most {MAX_ORDERS_PER_CALL} orders per call"),
        );
    }
    for id in &req.order_ids {
        check_id(&mut v, "order_ids", id);
    }
    let mut sorted = req.order_ids.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != req.order_ids.len() {
        v.add("order_ids", "must not repeat an order id");
    }
    v.optional_text("size", &req.size, 16);
    if req.weight_grams > 1_000_000 {
        v.add("weight_grams", "must be at most 1000000 (1 t)");
    }
    if req.shipment_type.is_none() {
        v.add("shipment_type", "must be a known shipment type");
    }
    for (order_id, point) in &req.target_points {
        if sorted.binary_search(order_id).is_err() {
            v.add(
                "target_points",
                format!("{order_id:?} is not one of order_ids"),
            );
        }
        v.text("target_points", point, 64);
    }
    if let Some(sender) = &req.sender {
        check_address(&mut v, "sender", sender);
    }
    v.optional_text("sender_email", &req.sender_email, 200);
    v.finish("INVALID_SHIPMENT_REQUEST")?;
    if req.shipment_type.is_some_and(|t| !t.is_tracked()) {
        return Err(ServiceError::invalid(
            "UNREGISTERED_LETTER_NOT_SUPPORTED",
            "shipment_type",
            "R19: unregistered letters are not supported: they have no tracking number to \
             attach to the order; send a registered letter or a parcel",
        ));
    }
    Ok(())
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

/// Step 1. Decides with the order (and its shipments) locked; records the attempt.
fn begin(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    req: &CreateShipments,
    (account_id, carrier): (&str, &str),
    order_id: &str,
) -> ServiceResult<Step> {
    let ids = [order_id.to_owned()];
    let Some(order) = lock_order(conn, &req.merchant_id, &ids)? else {
        return Ok(Step::Done(ShipmentResult::failed(
            order_id,
            "ORDER_NOT_FOUND",
            format!("order {order_id} not found"),
        )));
    };
    let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;

    // An attempt already open for this order: finish it rather than start another.
    if let Some(open) = repo::live_for_order_locked(conn, order_id, repo::REQUESTED)? {
        if open.carrier_answered() {
            return Ok(Step::Apply(open));
        }
        if open.lease_until.is_some_and(|until| until > now) {
            return Ok(Step::Done(ShipmentResult::of(
                &open,
                Outcome::Failed,
                "SHIPMENT_IN_PROGRESS",
                format!(
                    "another call is creating the shipment of order {order_id} right now; \
                     retry in a moment"
                ),
            )));
        }
        if state == OrderState::Refunded {
            let message = "R3: order is REFUNDED and can no longer be shipped";
            repo::fail(conn, &open.id, "ORDER_REFUNDED", message, now)?;
            return Ok(Step::Done(ShipmentResult::of(
                &open,
                Outcome::Failed,
                "ORDER_REFUNDED",
                message,
            )));
        }
        if open.carrier_shipment_id.is_some() {
            repo::lease(conn, &open.id, lease_until, now)?;
            return Ok(Step::Resume(open));
        }
        // The last send's outcome is unknown: send again, with the same reference.
        let shipment = repo::claim_for_send(conn, &open.id, account_id, carrier, lease_until, now)?;
        return Ok(Step::Send {
            shipment,
            receiver: order.shipping_detail(),
        });
    }

    if state == OrderState::Refunded {
        return Ok(Step::Done(ShipmentResult::failed(
            order_id,
            "ORDER_REFUNDED",
            "R3: order is REFUNDED and can no longer be shipped",
        )));
    }
    let current = repo::live_for_order_locked(conn, order_id, repo::CREATED)?;
    if let Some(current) = &current
        && req.request_key.is_some()
        && current.request_key == req.request_key
    {
        // A retry of the call that created it.
        return Ok(Step::Done(ShipmentResult::created(current)));
    }
    let facts = ShipmentFacts {
        state,
        has_shipment: current.is_some(),
        confirm_recreate: req.confirm_recreate,
    };
    match (shipment_rule::may_create(facts), &current) {
        (Ok(()), _) => {}
        (Err(refusal), Some(current)) => {
            return Ok(Step::Done(ShipmentResult::of(
                current,
                Outcome::Skipped,
                refusal.reason(),
                format!(
                    "R20: order {order_id} already has {} shipment {} (tracking number {}); set \
                     confirm_recreate to create another",
                    current.carrier,
                    current.carrier_shipment_id.as_deref().unwrap_or_default(),
                    current.tracking_number.as_deref().unwrap_or_default(),
                ),
            )));
        }
        (Err(refusal), None) => {
            return Ok(Step::Done(
                ShipmentResult::failed(
                    order_id,
                    refusal.reason(),
                    format!(
                        "R20: order {order_id} is already marked shipped; set confirm_recreate to \
                         create a shipment and replace its tracking"
                    ),
                )
                .skipped(),
            ));
        }
    }

    let id = random_id("sh").map_err(ServiceError::internal)?;
    let shipment = repo::insert(
        conn,
        &NewShipment {
            id: &id,
            merchant_id: &req.merchant_id,
            order_id,
            account_id,
            carrier,
            state: repo::REQUESTED,
            reference: order_id,
            recreate: state == OrderState::Shipped,
            request_key: req.request_key.as_deref(),
            attempts: 1,
            lease_until: Some(lease_until),
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(Step::Send {
        shipment,
        receiver: order.shipping_detail(),
    })
}

/// The request the carrier gets for one order.
fn shipment_request(
    req: &CreateShipments,
    shipment: &ShipmentRow,
    receiver: &Address,
) -> ShipmentRequest {
    let mut out = ShipmentRequest::new(
        shipment.reference.clone(),
        contact(receiver, ""),
        req.shipment_type.unwrap_or(ShipmentType::Parcel),
    );
    out.parcel.size = Some(req.size.trim().to_owned()).filter(|s| !s.is_empty());
    out.parcel.weight_grams = Some(req.weight_grams).filter(|w| *w > 0);
    out.target_point = req.target_points.get(&shipment.order_id).cloned();
    out.sender = req.sender.as_ref().map(|s| contact(s, &req.sender_email));
    out
}

/// Asks the carrier again about a shipment it created without a tracking number, with the
/// account that created it.
async fn resume(
    ctx: &DispatchContext,
    req: &CreateShipments,
    account: &Account,
    shipment: &ShipmentRow,
) -> Result<CreatedShipment, DispatchError> {
    let carrier_shipment_id = shipment.carrier_shipment_id.clone().unwrap_or_default();
    if shipment.account_id == account.id {
        return account.client.resume(&carrier_shipment_id).await;
    }
    let (keys, config) = (ctx.keys.clone(), ctx.config.clone());
    let (merchant_id, account_id) = (req.merchant_id.clone(), shipment.account_id.clone());
    let loaded = ctx
        .db
        .transaction(move |conn| {
            load_client(conn, keys.as_deref(), &config, &merchant_id, &account_id)
        })
        .await;
    match loaded {
        Ok((client, _)) => client.resume(&carrier_shipment_id).await,
        Err(e) => Err(DispatchError::Refused(format!(
            "the carrier account {} that created this shipment cannot be used: {e}",
            shipment.account_id
        ))),
    }
}

/// Step 2: writes the carrier's answer to the attempt as soon as it comes. `Ok`: the attempt
/// with the carrier's ids, to apply. `Err`: the order's result.
async fn record_answer(
    ctx: &DispatchContext,
    shipment: &ShipmentRow,
    answer: Result<CreatedShipment, DispatchError>,
) -> Result<ShipmentRow, Box<ShipmentResult>> {
    let now = ctx.clock.now();
    let id = shipment.id.clone();
    match answer {
        Ok(created) => {
            let written = {
                let created = created.clone();
                ctx.db
                    .transaction(move |conn| {
                        Ok(repo::record_carrier_ids(
                            conn,
                            &id,
                            &created.carrier_shipment_id,
                            Some(&created.tracking_number),
                            Some(&created.label_reference),
                            now,
                        )?)
                    })
                    .await
            };
            if let Err(e) = written {
                // The shipment exists at the carrier and we could not write it down: say so
                // loudly, with what an operator needs to find it.
                tracing::error!(
                    shipment = %shipment.id,
                    order = %shipment.order_id,
                    carrier = %shipment.carrier,
                    carrier_shipment_id = %created.carrier_shipment_id,
                    tracking_number = %created.tracking_number,
                    error = %e,
                    "the carrier created the shipment but it could not be recorded"
                );
                return Err(Box::new(database_failure(
                    &shipment.order_id,
                    "recording the carrier's answer",
                    &e,
                )));
            }
            let mut applied = shipment.clone();
            applied.carrier_shipment_id = Some(created.carrier_shipment_id);
            applied.tracking_number = Some(created.tracking_number);
            applied.label_reference = Some(created.label_reference);
            Ok(applied)
        }
        Err(error) => {
            let (reason, message, disposition) =
                failure(&shipment.carrier, &shipment.account_id, &error);
            let mut answered = shipment.clone();
            let written = {
                let message = message.clone();
                let disposition = disposition.clone();
                ctx.db
                    .transaction(move |conn| {
                        match disposition {
                            Disposition::Refused => repo::fail(conn, &id, reason, &message, now)?,
                            Disposition::Unknown => {
                                repo::release(conn, &id, reason, &message, now)?
                            }
                            Disposition::Pending {
                                carrier_shipment_id,
                            } => {
                                repo::record_carrier_ids(
                                    conn,
                                    &id,
                                    &carrier_shipment_id,
                                    None,
                                    None,
                                    now,
                                )?;
                                repo::release(conn, &id, reason, &message, now)?
                            }
                        };
                        Ok(())
                    })
                    .await
            };
            if let Err(e) = written {
                tracing::warn!(shipment = %shipment.id, error = %e, "cannot record a carrier's refusal");
            }
            if let Disposition::Pending {
                carrier_shipment_id,
            } = disposition
            {
                answered.carrier_shipment_id = Some(carrier_shipment_id);
            }
            Err(Box::new(ShipmentResult::of(
                &answered,
                Outcome::Failed,
                reason,
                message,
            )))
        }
    }
}

/// Step 3: marks the order shipped with the carrier's tracking number and the attempt
/// `CREATED`, in one transaction.
async fn apply(
    ctx: &DispatchContext,
    actor: &Actor,
    req: &Arc<CreateShipments>,
    shipment: ShipmentRow,
) -> ShipmentResult {
    let now = ctx.clock.now();
    let applied = {
        let (policies, actor, req) = (Arc::clone(&ctx.policies), actor.clone(), Arc::clone(req));
        let id = shipment.id.clone();
        ctx.db
            .transaction(move |conn| {
                let policy = policies.at(conn, now)?;
                apply_in(conn, now, &policy, &actor, &req, &id)
            })
            .await
    };
    let error = match applied {
        Ok(result) => return result,
        Err(error) => error,
    };
    let transient = matches!(
        error,
        ServiceError::Internal(_) | ServiceError::Unavailable(_) | ServiceError::Aborted { .. }
    );
    let carrier_shipment_id = shipment.carrier_shipment_id.as_deref().unwrap_or_default();
    let number = shipment.tracking_number.as_deref().unwrap_or_default();
    let (reason, message) = if transient {
        tracing::error!(
            shipment = %shipment.id,
            order = %shipment.order_id,
            error = ?error,
            "the carrier created the shipment but marking the order shipped failed"
        );
        (
            "SHIPMENT_NOT_APPLIED",
            format!(
                "{} created shipment {carrier_shipment_id} (tracking number {number}) but marking \
                 the order shipped failed: retry to apply it (the carrier is not called again)",
                shipment.carrier
            ),
        )
    } else {
        (
            error.reason(),
            format!(
                "{} created shipment {carrier_shipment_id} (tracking number {number}) but it \
                 cannot be attached to the order: {error}. Cancel it with the carrier if it will \
                 not be used",
                shipment.carrier
            ),
        )
    };
    let written = {
        let (id, message) = (shipment.id.clone(), message.clone());
        ctx.db
            .transaction(move |conn| {
                Ok(if transient {
                    repo::release(conn, &id, reason, &message, now)?
                } else {
                    repo::fail(conn, &id, reason, &message, now)?
                })
            })
            .await
    };
    if let Err(e) = written {
        tracing::warn!(shipment = %shipment.id, error = %e, "cannot record why a shipment was not applied");
    }
    ShipmentResult::of(&shipment, Outcome::Failed, reason, message)
}

fn apply_in(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    policy: &fulfillment_policy::values::Policy,
    actor: &Actor,
    req: &CreateShipments,
    shipment_id: &str,
) -> ServiceResult<ShipmentResult> {
    let shipment = repo::lock(conn, shipment_id)?
        .ok_or_else(|| ServiceError::not_found("shipment", shipment_id))?;
    match shipment.state.as_str() {
        // Another call applied it first.
        repo::CREATED => return Ok(ShipmentResult::created(&shipment)),
        repo::REQUESTED => {}
        _ => {
            return Ok(ShipmentResult::of(
                &shipment,
                Outcome::Failed,
                shipment
                    .failure_reason
                    .as_deref()
                    .unwrap_or("SHIPMENT_FAILED"),
                shipment.failure_message.clone().unwrap_or_default(),
            ));
        }
    }
    let Some(number) = shipment.tracking_number.clone() else {
        return Err(ServiceError::internal(format!(
            "shipment {shipment_id} is applied without a tracking number"
        )));
    };
    let ids = [shipment.order_id.clone()];
    let order = lock_order(conn, &shipment.merchant_id, &ids)?
        .ok_or_else(|| ServiceError::not_found("order", &shipment.order_id))?;
    let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;
    let mode = match state {
        OrderState::Approved => ShipMode::Fulfil,
        OrderState::Shipped if shipment.recreate || req.confirm_recreate => {
            ShipMode::ModifyTracking
        }
        OrderState::Shipped => {
            return Err(ServiceError::precondition(
                "ORDER_ALREADY_SHIPPED",
                format!(
                    "R20: order {} was marked shipped while its shipment was being created",
                    order.id
                ),
            ));
        }
        OrderState::Refunded => {
            return Err(ServiceError::precondition(
                "ORDER_REFUNDED",
                format!(
                    "R3: order {} is REFUNDED and can no longer be shipped",
                    order.id
                ),
            ));
        }
    };
    // A confirmed re-creation replaces the shipment the order shipped with (R20).
    if let Some(current) = repo::live_for_order_locked(conn, &order.id, repo::CREATED)? {
        repo::supersede(conn, &current.id, now)?;
    }
    ship(
        conn,
        now,
        policy,
        actor,
        &ShipRequest {
            merchant_id: order.merchant_id.clone(),
            order_ids: vec![order.id.clone()],
            tracking: TrackingInput {
                tracking_number: number,
                carrier: shipment.carrier.clone(),
                origin_country: origin_country(req),
                channel: Channel::Api,
            },
            mode,
        },
    )?;
    repo::mark_created(conn, &shipment.id, now)?;
    Ok(ShipmentResult::created(&shipment))
}

fn origin_country(req: &CreateShipments) -> String {
    req.sender
        .as_ref()
        .map(|s| s.country.trim().to_uppercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_ORIGIN_COUNTRY.to_owned())
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

/// The order, locked, if it belongs to the merchant.
fn lock_order(
    conn: &mut PgConnection,
    merchant_id: &str,
    ids: &[String],
) -> ServiceResult<Option<Order>> {
    Ok(fulfillment_core::repo::orders::lock_many(conn, merchant_id, ids)?.pop())
}
