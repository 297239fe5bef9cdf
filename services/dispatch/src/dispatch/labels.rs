//! Labels (R20): the PDF of each order's current shipment, fetched from its carrier for as long
//! as the carrier keeps it. Labels are not stored here; one document per order is returned (the
//! service does not merge PDF documents).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fulfillment_carriers::dispatch::{DispatchError, ShipmentRef};
use fulfillment_core::repo::orders;
use fulfillment_core::repo::shipments::{self as repo, ShipmentRow};
use fulfillment_core::{ServiceError, ServiceResult, Violations};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::DispatchContext;
use super::carrier::{CarrierClient, failure, load_client};
use fulfillment_core::input::check_id;
use fulfillment_orders::input::check_order_ids;

/// Most orders one GetLabels call may name.
pub const MAX_ORDERS_PER_LABELS_CALL: usize = 100;

/// One order's label.
#[derive(Clone, PartialEq, Eq)]
pub struct OrderLabel {
    pub order_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub pdf: Vec<u8>,
}

impl std::fmt::Debug for OrderLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderLabel")
            .field("order_id", &self.order_id)
            .field("carrier", &self.carrier)
            .field("tracking_number", &self.tracking_number)
            .field("pdf", &self.pdf.len())
            .finish()
    }
}

/// Why an order has no label in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelProblem {
    pub order_id: String,
    /// `NO_SHIPMENT`, `LABEL_GONE`, `ORDER_NOT_FOUND`, `CARRIER_ACCOUNT_DISCONNECTED`,
    /// `RESPONSE_TOO_LARGE`, or a `CARRIER_*` code.
    pub reason: String,
    pub message: String,
}

impl LabelProblem {
    fn new(order_id: &str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            order_id: order_id.to_owned(),
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// Labels in the order requested, and the orders without one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub labels: Vec<OrderLabel>,
    pub unavailable: Vec<LabelProblem>,
}

fn validate(merchant_id: &str, order_ids: &[String]) -> ServiceResult<()> {
    let mut v = Violations::new();
    check_id(&mut v, "merchant_id", merchant_id);
    let limit = (MAX_ORDERS_PER_LABELS_CALL, "call");
    check_order_ids(&mut v, "order_ids", order_ids, limit);
    v.finish("INVALID_LABELS_REQUEST")
}

/// The labels of a merchant's orders (R20).
pub async fn get_labels(
    ctx: &DispatchContext,
    merchant_id: &str,
    order_ids: &[String],
) -> ServiceResult<Labels> {
    validate(merchant_id, order_ids)?;
    let (found, shipments) = load(ctx, merchant_id, order_ids).await?;
    let clients = load_clients(ctx, merchant_id, &shipments).await?;
    let fetched = fetch(ctx, order_ids, &found, &shipments, &clients).await?;
    Ok(assemble(ctx, order_ids, fetched, &shipments))
}

/// Each account's client, or why the account cannot be used.
type Clients = BTreeMap<String, Result<Arc<CarrierClient>, LabelProblem>>;
/// Each order's label, or why it has none.
type Fetched = HashMap<String, Result<Vec<u8>, LabelProblem>>;

/// The merchant's orders found among those asked, and their current shipments by order id.
async fn load(
    ctx: &DispatchContext,
    merchant_id: &str,
    order_ids: &[String],
) -> ServiceResult<(Vec<String>, HashMap<String, ShipmentRow>)> {
    let (found, shipments) = {
        let (merchant_id, ids) = (merchant_id.to_owned(), order_ids.to_vec());
        ctx.db
            .transaction(move |conn| {
                fulfillment_core::input::require_merchant(conn, &merchant_id)?;
                let found: Vec<String> = orders::find_many(conn, &merchant_id, &ids)?
                    .into_iter()
                    .map(|o| o.id)
                    .collect();
                let shipments = repo::created_for_orders(conn, &merchant_id, &ids)?;
                Ok((found, shipments))
            })
            .await?
    };
    let shipments: HashMap<String, ShipmentRow> = shipments
        .into_iter()
        .map(|s| (s.order_id.clone(), s))
        .collect();
    Ok((found, shipments))
}

/// One client per account the shipments were created with.
async fn load_clients(
    ctx: &DispatchContext,
    merchant_id: &str,
    shipments: &HashMap<String, ShipmentRow>,
) -> ServiceResult<Clients> {
    let mut clients = Clients::new();
    for shipment in shipments.values() {
        if clients.contains_key(&shipment.account_id) {
            continue;
        }
        let (keys, config) = (ctx.keys.clone(), ctx.config.clone());
        let (merchant, account) = (merchant_id.to_owned(), shipment.account_id.clone());
        let loaded = ctx
            .db
            .transaction(move |conn| {
                load_client(conn, keys.as_deref(), &config, &merchant, &account)
            })
            .await;
        let client = match loaded {
            Ok((client, _)) => Ok(Arc::new(client)),
            Err(ServiceError::NotFound { .. }) => Err(LabelProblem::new(
                "",
                "CARRIER_ACCOUNT_DISCONNECTED",
                format!(
                    "the carrier account {} that created the shipment is no longer connected",
                    shipment.account_id
                ),
            )),
            Err(other) => return Err(other),
        };
        clients.insert(shipment.account_id.clone(), client);
    }
    Ok(clients)
}

/// Fetches the labels from the carriers, a few at a time.
async fn fetch(
    ctx: &DispatchContext,
    order_ids: &[String],
    found: &[String],
    shipments: &HashMap<String, ShipmentRow>,
    clients: &Clients,
) -> ServiceResult<Fetched> {
    let permits = Arc::new(Semaphore::new(ctx.config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut fetched = Fetched::new();
    for order_id in order_ids {
        if !found.contains(order_id) {
            fetched.insert(
                order_id.clone(),
                Err(LabelProblem::new(
                    order_id,
                    "ORDER_NOT_FOUND",
                    format!("order {order_id} not found"),
                )),
            );
            continue;
        }
        let Some(shipment) = shipments.get(order_id) else {
            fetched.insert(
                order_id.clone(),
                Err(LabelProblem::new(
                    order_id,
                    "NO_SHIPMENT",
                    format!("order {order_id} has no shipment created with a carrier"),
                )),
            );
            continue;
        };
        let client = match clients.get(&shipment.account_id) {
            Some(Ok(client)) => Arc::clone(client),
            Some(Err(problem)) => {
                let mut problem = problem.clone();
                problem.order_id = order_id.clone();
                fetched.insert(order_id.clone(), Err(problem));
                continue;
            }
            None => continue,
        };
        let shipment = shipment.clone();
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(ServiceError::internal)?;
        tasks.spawn(async move {
            let reference = ShipmentRef::new(
                shipment.carrier_shipment_id.clone().unwrap_or_default(),
                shipment.tracking_number.clone().unwrap_or_default(),
                shipment.label_reference.clone().unwrap_or_default(),
            );
            let label = client.label(&reference).await;
            drop(permit);
            (shipment, label)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (shipment, label) = joined.map_err(ServiceError::internal)?;
        let result = label
            .map(|l| l.bytes)
            .map_err(|e| label_problem(&shipment, &e));
        fetched.insert(shipment.order_id.clone(), result);
    }
    Ok(fetched)
}

/// The answer in the order requested, within the size an answer may have.
fn assemble(
    ctx: &DispatchContext,
    order_ids: &[String],
    mut fetched: Fetched,
    shipments: &HashMap<String, ShipmentRow>,
) -> Labels {
    let mut out = Labels::default();
    let mut bytes = 0usize;
    for order_id in order_ids {
        match fetched.remove(order_id) {
            Some(Ok(pdf)) => {
                if !out.labels.is_empty() && bytes + pdf.len() > ctx.config.max_label_bytes {
                    out.unavailable.push(LabelProblem::new(
                        order_id,
                        "RESPONSE_TOO_LARGE",
                        "the labels before it fill this answer: ask for this one in another call",
                    ));
                    continue;
                }
                bytes += pdf.len();
                let shipment = shipments.get(order_id);
                out.labels.push(OrderLabel {
                    order_id: order_id.clone(),
                    carrier: shipment.map(|s| s.carrier.clone()).unwrap_or_default(),
                    tracking_number: shipment
                        .and_then(|s| s.tracking_number.clone())
                        .unwrap_or_default(),
                    pdf,
                });
            }
            Some(Err(problem)) => out.unavailable.push(problem),
            None => out.unavailable.push(LabelProblem::new(
                order_id,
                "LABEL_UNAVAILABLE",
                "the label could not be fetched",
            )),
        }
    }
    out
}

fn label_problem(shipment: &ShipmentRow, error: &DispatchError) -> LabelProblem {
    let what = format!(
        "{} shipment {} (tracking number {})",
        shipment.carrier,
        shipment.carrier_shipment_id.as_deref().unwrap_or_default(),
        shipment.tracking_number.as_deref().unwrap_or_default()
    );
    match error {
        DispatchError::LabelGone | DispatchError::NotFound => LabelProblem::new(
            &shipment.order_id,
            "LABEL_GONE",
            format!("the carrier no longer keeps the label of {what}"),
        ),
        other => {
            let (reason, message, _) = failure(&shipment.carrier, &shipment.account_id, other);
            LabelProblem::new(&shipment.order_id, reason, message)
        }
    }
}
