//! `deadline-enforcer` (R5): `APPROVED` orders past their deadline are refunded
//! (`NOT_SHIPPED_IN_TIME`), with a merchant violation and a product-disable candidate.

use diesel::PgConnection;
use fulfillment_core::models::NewOrderEvent;
use fulfillment_core::repo::reconcile as repo;
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::deadline::{NOT_SHIPPED_IN_TIME, is_overdue, overdue_cutoff};
use fulfillment_policy::order_state::OrderState;
use serde_json::json;

use super::{Batch, BatchScope, Step, outbox_row};

pub struct DeadlineEnforcer;

impl Step for DeadlineEnforcer {
    const NAME: &'static str = "deadline-enforcer";

    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch> {
        let (now, policy, actor) = (scope.now, scope.policy, scope.actor);
        // The claim follows the deadline index up to the rule's bound; the rule decides.
        let claimed = repo::claim_past_deadline(conn, overdue_cutoff(now), scope.limit)?;
        let mut batch = Batch::claimed(claimed.len(), 0);
        let mut late = Vec::with_capacity(claimed.len());
        for order in &claimed {
            let state: OrderState = order.state.parse().map_err(ServiceError::internal)?;
            if is_overdue(state, order.fulfillment_deadline, now) {
                late.push(order);
            }
        }
        let refunds: Vec<_> = late
            .iter()
            .map(|o| (o.id.clone(), NOT_SHIPPED_IN_TIME))
            .collect();
        let mut events = Vec::with_capacity(late.len());
        let mut outbox = Vec::with_capacity(late.len());
        for order in &late {
            events.push(NewOrderEvent {
                order_id: &order.id,
                merchant_id: &order.merchant_id,
                actor: &actor.0,
                kind: "refunded",
                state_before: Some(&order.state),
                state_after: OrderState::Refunded.as_str(),
                policy_version: Some(policy.version),
                details: json!({
                    "rule": "R5",
                    "reason": NOT_SHIPPED_IN_TIME,
                    "fulfillment_deadline": order.fulfillment_deadline,
                }),
                occurred_at: now,
            });
            outbox.push(outbox_row(
                now,
                "refund.requested",
                &order.id,
                &order.merchant_id,
                Some(&order.id),
                json!({ "order_id": order.id, "reason": NOT_SHIPPED_IN_TIME }),
            ));
            batch.count("refunded");
            batch.decisions.push(format!(
                "order {}: refund {NOT_SHIPPED_IN_TIME} (deadline {})",
                order.id,
                order.fulfillment_deadline.to_rfc3339()
            ));
        }
        repo::write_refunds(conn, &refunds, now)?;
        repo::record_late_refunds(conn, &late, NOT_SHIPPED_IN_TIME, now)?;
        repo::record_events(conn, &events)?;
        repo::enqueue_events(conn, &outbox)?;
        Ok(batch)
    }
}
