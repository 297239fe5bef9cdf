//! Owns: R2, R5.
//!
//! R2: a released order must be marked shipped within the fulfillment window of its (latest)
//! release.

use chrono::{DateTime, Duration, Utc};

use crate::order_state::OrderState;
use crate::values::PolicyValues;

pub fn fulfillment_deadline(released_at: DateTime<Utc>, values: &PolicyValues) -> DateTime<Utc> {
    released_at + Duration::days(values.fulfillment_window_days)
}

/// R16: a re-released order has `rerelease_deadline_days` from its re-release to ship again
/// (Merchant Policy 5.1), counted from when it is re-released, not from the cancellation.
pub fn rerelease_deadline(re_released_at: DateTime<Utc>, values: &PolicyValues) -> DateTime<Utc> {
    re_released_at + Duration::days(values.rerelease_deadline_days)
}

/// Whole days and whole hours (in total, not the remainder) left; never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLeft {
    pub days_to_fulfill: i64,
    pub hours_to_fulfill: i64,
}

pub fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> TimeLeft {
    let hours = (deadline - now).num_hours().max(0);
    TimeLeft {
        days_to_fulfill: hours / 24,
        hours_to_fulfill: hours,
    }
}

/// R2: shipped after the deadline is a policy violation (recorded, not refused).
pub fn is_late(deadline: DateTime<Utc>, shipped_at: DateTime<Utc>) -> bool {
    shipped_at > deadline
}

/// R5: the refund reason of an order not shipped before its deadline.
pub const NOT_SHIPPED_IN_TIME: &str = "NOT_SHIPPED_IN_TIME";

/// R5: an order still `APPROVED` after its deadline is overdue: the deadline worker refunds it
/// (`NOT_SHIPPED_IN_TIME`). The one definition of "overdue", for reads, what-ifs and the worker.
pub fn is_overdue(state: OrderState, deadline: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state == OrderState::Approved && is_late(deadline, now)
}

/// R5, for a claim that follows the deadline index: every `APPROVED` order whose deadline is
/// before this instant is overdue at `now` ([`is_overdue`] is exactly `deadline < cutoff`).
pub fn overdue_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn r2_deadline_is_five_days_after_release() {
        let released = Utc.with_ymd_and_hms(2021, 5, 1, 10, 30, 0).unwrap();
        let deadline = fulfillment_deadline(released, &PolicyValues::default());
        assert_eq!(
            deadline,
            Utc.with_ymd_and_hms(2021, 5, 6, 10, 30, 0).unwrap()
        );
    }

    #[test]
    fn r2_four_days_23_hours_left_counts_as_4_days_119_hours() {
        let deadline = Utc.with_ymd_and_hms(2021, 5, 6, 10, 30, 0).unwrap();
        let now = deadline - Duration::days(4) - Duration::hours(23) - Duration::minutes(30);
        assert_eq!(
            time_left(deadline, now),
            TimeLeft {
                days_to_fulfill: 4,
                hours_to_fulfill: 119
            }
        );
    }

    #[test]
    fn r2_time_left_is_never_negative() {
        let deadline = Utc.with_ymd_and_hms(2021, 5, 6, 10, 30, 0).unwrap();
        assert_eq!(
            time_left(deadline, deadline + Duration::days(3)),
            TimeLeft {
                days_to_fulfill: 0,
                hours_to_fulfill: 0
            }
        );
        assert!(is_late(deadline, deadline + Duration::seconds(1)));
        assert!(!is_late(deadline, deadline));
    }

    #[test]
    fn r5_only_approved_orders_past_their_deadline_are_overdue() {
        let deadline = Utc.with_ymd_and_hms(2021, 5, 6, 10, 30, 0).unwrap();
        let after = deadline + Duration::seconds(1);
        assert!(is_overdue(OrderState::Approved, deadline, after));
        assert!(!is_overdue(OrderState::Approved, deadline, deadline));
        assert!(!is_overdue(OrderState::Shipped, deadline, after));
        assert!(!is_overdue(OrderState::Refunded, deadline, after));
        // The claim's bound agrees with the rule on both sides of the deadline.
        for now in [deadline - Duration::seconds(1), deadline, after] {
            assert_eq!(
                deadline < overdue_cutoff(now),
                is_overdue(OrderState::Approved, deadline, now)
            );
        }
    }
}
