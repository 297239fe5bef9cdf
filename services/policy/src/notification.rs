//! Owns: R9.
//!
//! R9: once a day, a merchant with orders to fulfil gets one notification with the count; the
//! customer is told the tracking number when an order is marked shipped (the service writes that
//! one with the shipment). Both are outbox rows written in the transaction of the change that
//! causes them; what a daily digest says, and when there is none, is decided here.

use chrono::NaiveDate;

/// The outbox kind of the merchant's daily digest.
pub const DIGEST_KIND: &str = "merchant.notified";

/// One merchant's digest for one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The outbox row's key: one digest per merchant per UTC day, whoever runs the notifier.
    pub key: String,
    pub orders_to_fulfill: i64,
}

/// R9: the digest a merchant gets on `day` with `orders_to_fulfill` orders still to ship; none
/// when there is nothing to fulfil.
pub fn daily_digest(merchant_id: &str, day: NaiveDate, orders_to_fulfill: i64) -> Option<Digest> {
    (orders_to_fulfill > 0).then(|| Digest {
        key: format!("digest:{merchant_id}:{day}"),
        orders_to_fulfill,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_digest_a_merchant_a_day_and_none_without_orders() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let digest = daily_digest("m-1", day, 3).unwrap();
        assert_eq!(digest.key, "digest:m-1:2026-12-04");
        assert_eq!(digest.orders_to_fulfill, 3);
        let next = daily_digest("m-1", day.succ_opt().unwrap(), 3).unwrap();
        assert_ne!(next.key, digest.key, "another day, another digest");
        assert_eq!(daily_digest("m-1", day, 0), None);
    }
}
