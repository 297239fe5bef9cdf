//! Owns: R1.
//!
//! R1: an order enters the service when the marketplace releases it to its merchant, at
//! `released_at`; the first release is kept forever as `initial_released_at` (a re-release, R16,
//! moves only `released_at`). What a release may claim is decided here: its time (the pipeline's
//! clock may run a little ahead of ours, never far, and no order predates the marketplace's
//! records) and its quantity (0 means one item, as the pipeline sends it).

use chrono::{DateTime, Duration, TimeZone, Utc};

/// Clock skew tolerated between the order pipeline and this service.
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);
/// The largest quantity one order line may carry.
pub const MAX_QUANTITY: i32 = 1_000_000;

/// Why a release's field is refused, in words for the caller (the field is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseRefusal {
    #[error("must not be in the future")]
    InTheFuture,
    #[error("must not be before 2000-01-01")]
    TooOld,
    #[error("must be between 1 and {MAX_QUANTITY}")]
    Quantity,
}

/// R1: when the order was released: the pipeline's time, or `now` when it sends none.
pub fn released_at(
    claimed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ReleaseRefusal> {
    let at = claimed.unwrap_or(now);
    let earliest = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    if at > now + MAX_FUTURE_SKEW {
        Err(ReleaseRefusal::InTheFuture)
    } else if earliest.is_some_and(|earliest| at < earliest) {
        Err(ReleaseRefusal::TooOld)
    } else {
        Ok(at)
    }
}

/// R1: the order's quantity; the pipeline's 0 means one item.
pub fn quantity(claimed: i32) -> Result<i32, ReleaseRefusal> {
    let quantity = if claimed == 0 { 1 } else { claimed };
    if (1..=MAX_QUANTITY).contains(&quantity) {
        Ok(quantity)
    } else {
        Err(ReleaseRefusal::Quantity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_release_time_is_the_pipelines_within_the_skew_or_now() {
        let now = t("2026-12-04T10:00:00Z");
        assert_eq!(released_at(None, now), Ok(now));
        let past = t("2026-11-30T08:00:00Z");
        assert_eq!(released_at(Some(past), now), Ok(past));
        let skewed = now + MAX_FUTURE_SKEW;
        assert_eq!(released_at(Some(skewed), now), Ok(skewed));
        assert_eq!(
            released_at(Some(skewed + Duration::seconds(1)), now),
            Err(ReleaseRefusal::InTheFuture)
        );
        assert_eq!(
            released_at(Some(t("1999-12-31T23:59:59Z")), now),
            Err(ReleaseRefusal::TooOld)
        );
        assert_eq!(
            released_at(Some(t("2000-01-01T00:00:00Z")), now),
            Ok(t("2000-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn zero_means_one_item_and_the_quantity_is_bounded() {
        assert_eq!(quantity(0), Ok(1));
        assert_eq!(quantity(3), Ok(3));
        assert_eq!(quantity(MAX_QUANTITY), Ok(MAX_QUANTITY));
        assert_eq!(quantity(MAX_QUANTITY + 1), Err(ReleaseRefusal::Quantity));
        assert_eq!(quantity(-1), Err(ReleaseRefusal::Quantity));
    }
}
