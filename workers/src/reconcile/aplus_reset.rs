//! `aplus-reset` (R18): resets the shipping of A+ orders removed from the program by a
//! partner-carrier cancellation whose re-release was written without its A+ part. Since
//! `re-release-decider` writes the A+ part in the re-release's own statement, its queue holds
//! only re-releases decided before that (links with `aplus_leaves` unknown); the chart keeps the
//! CronJob so such rows are settled, and an empty run costs one index probe.

use diesel::PgConnection;
use fulfillment_core::models::NewOrderEvent;
use fulfillment_core::repo::reconcile::{self as repo, AplusReset as Reset, CancellationQueue};
use fulfillment_core::{ServiceError, ServiceResult};
use fulfillment_policy::cancellation::{aplus_leaves_program, rerelease_flag};
use serde_json::json;

use super::cancellation::claim;
use super::{Batch, BatchScope, Step, outbox_row};

pub struct AplusReset;

impl Step for AplusReset {
    const NAME: &'static str = "aplus-reset";

    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch> {
        let (now, policy, actor) = (scope.now, scope.policy, scope.actor);
        let (links, mut batch) = claim(conn, CancellationQueue::AplusReset, scope)?;
        let mut settled = Vec::with_capacity(links.len());
        let mut resets = Vec::new();
        let mut events = Vec::new();
        let mut outbox = Vec::new();
        for link in &links {
            let cancelled_by = link.cancelled_by.parse().map_err(ServiceError::internal)?;
            let leaves = aplus_leaves_program(link.is_advanced_logistics, cancelled_by);
            settled.push((link.link_id, leaves));
            if !leaves {
                batch.count("stays");
                continue;
            }
            let (from, to) = (link.shipping_detail(), link.customer_shipping_detail());
            let flag = rerelease_flag(true).as_str();
            events.push(NewOrderEvent {
                order_id: &link.order_id,
                merchant_id: &link.merchant_id,
                actor: &actor.0,
                kind: "aplus_left_program",
                state_before: Some(&link.state),
                state_after: &link.state,
                policy_version: Some(policy.version),
                details: json!({
                    "rule": "R18",
                    "cancelled_by": link.cancelled_by,
                    "flag": flag,
                    "shipping_detail_before": from,
                    "shipping_detail_after": to,
                }),
                occurred_at: now,
            });
            outbox.push(outbox_row(
                now,
                "merchant.notified",
                &format!("aplus_left_program:{}:{}", link.order_id, link.link_id),
                &link.merchant_id,
                Some(&link.order_id),
                json!({
                    "order_id": link.order_id,
                    "reason": "aplus_left_program",
                    "ship_to_country": to.country,
                }),
            ));
            batch.count("reset");
            batch.decisions.push(format!(
                "order {}: leaves A+, ships to the customer in {} (R18)",
                link.order_id, to.country
            ));
            resets.push(Reset {
                order_id: link.order_id.clone(),
                flag: flag.to_owned(),
                to,
            });
        }
        repo::write_aplus_resets(conn, &resets, now)?;
        repo::mark_aplus_settled(conn, &settled, now)?;
        repo::record_events(conn, &events)?;
        repo::enqueue_events(conn, &outbox)?;
        Ok(batch)
    }
}
