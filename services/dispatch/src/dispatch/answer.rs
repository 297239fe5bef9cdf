//! Step 2 of a dispatch: what the carrier answered, written to the attempt as soon as it comes.

use fulfillment_carriers::dispatch::{CreatedShipment, DispatchError};
use fulfillment_core::repo::shipments::{self as repo, ShipmentRow};

use super::carrier::{Disposition, failure, load_client};
use super::{Account, CreateShipments, DispatchContext, Outcome, ShipmentResult, database_failure};

/// Asks the carrier again about a shipment it created without a tracking number, with the
/// account that created it.
pub(super) async fn resume(
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
pub(super) async fn record_answer(
    ctx: &DispatchContext,
    shipment: &ShipmentRow,
    answer: Result<CreatedShipment, DispatchError>,
) -> Result<ShipmentRow, Box<ShipmentResult>> {
    match answer {
        Ok(created) => record_created(ctx, shipment, created).await,
        Err(error) => Err(Box::new(record_refusal(ctx, shipment, &error).await)),
    }
}

/// The carrier created the shipment: its ids are written down before anything else.
async fn record_created(
    ctx: &DispatchContext,
    shipment: &ShipmentRow,
    created: CreatedShipment,
) -> Result<ShipmentRow, Box<ShipmentResult>> {
    let now = ctx.clock.now();
    let id = shipment.id.clone();
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

/// The carrier refused, or its answer is unknown: the attempt is failed or released (keeping the
/// carrier's shipment id when it has one) and the order's result says why.
async fn record_refusal(
    ctx: &DispatchContext,
    shipment: &ShipmentRow,
    error: &DispatchError,
) -> ShipmentResult {
    let now = ctx.clock.now();
    let id = shipment.id.clone();
    let (reason, message, disposition) = failure(&shipment.carrier, &shipment.account_id, error);
    let mut answered = shipment.clone();
    let written = {
        let message = message.clone();
        let disposition = disposition.clone();
        ctx.db
            .transaction(move |conn| {
                match disposition {
                    Disposition::Refused => repo::fail(conn, &id, reason, &message, now)?,
                    Disposition::Unknown => repo::release(conn, &id, reason, &message, now)?,
                    Disposition::Pending {
                        carrier_shipment_id,
                    } => {
                        repo::record_carrier_ids(conn, &id, &carrier_shipment_id, None, None, now)?;
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
    ShipmentResult::of(&answered, Outcome::Failed, reason, message)
}
