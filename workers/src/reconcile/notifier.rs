//! `merchant-notifier` (R9): once per merchant per UTC day, one notification with the count of
//! orders to fulfil. The (merchant, day) key makes a second one impossible, whatever the
//! schedule or however many copies run.

use std::collections::HashSet;

use diesel::PgConnection;
use fulfillment_core::ServiceResult;
use fulfillment_core::repo::reconcile as repo;
use fulfillment_policy::notification;
use serde_json::json;

use super::{Batch, BatchScope, Step, outbox_row};

pub struct MerchantNotifier;

impl Step for MerchantNotifier {
    const NAME: &'static str = "merchant-notifier";

    fn batch(conn: &mut PgConnection, scope: &BatchScope<'_>) -> ServiceResult<Batch> {
        let BatchScope { now, limit, .. } = *scope;
        let day = now.date_naive();
        let due = repo::claim_merchants_to_notify(conn, day, limit)?;
        let mut batch = Batch::claimed(due.len(), 0);
        let recorded: HashSet<String> = repo::record_notifications(conn, day, &due, now)?
            .into_iter()
            .collect();
        let mut outbox = Vec::new();
        for merchant in due.iter().filter(|m| recorded.contains(&m.merchant_id)) {
            let Some(digest) =
                notification::daily_digest(&merchant.merchant_id, day, merchant.to_fulfill)
            else {
                // Recorded, so not asked again today; nothing to tell.
                batch.count("nothing_to_fulfil");
                continue;
            };
            outbox.push(outbox_row(
                now,
                notification::DIGEST_KIND,
                &digest.key,
                &merchant.merchant_id,
                None,
                json!({
                    "merchant_id": merchant.merchant_id,
                    "day": day.to_string(),
                    "orders_to_fulfill": digest.orders_to_fulfill,
                }),
            ));
            batch.count("notified");
            batch.decisions.push(format!(
                "merchant {}: {} orders to fulfil",
                merchant.merchant_id, merchant.to_fulfill
            ));
        }
        repo::enqueue_events(conn, &outbox)?;
        Ok(batch)
    }
}
