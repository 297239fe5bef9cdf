//! Owns: R21, R22.
//!
//! R21, R22: the normalised tracking statuses, how a tracking's facts follow from its events,
//! and when a tracking is polled next. Carriers' own vocabularies are mapped to these statuses
//! by each carrier client (`fulfillment-carriers`); what the statuses mean is decided here.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

/// One checkpoint as the carrier reported it, already mapped to our status (R21). The carrier
/// clients produce it and the tracking service stores it; both name it from here, the crate
/// they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierEvent {
    /// The carrier's own event id, when it has one (R22 deduplicates by it, else by a hash).
    pub event_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub status: TrackingStatus,
    /// The carrier's own status code and text, kept beside ours (R21).
    pub carrier_status_code: String,
    pub carrier_status_text: String,
    pub location: String,
    /// This checkpoint's part of the carrier's answer, as JSON or XML text.
    pub raw_payload: String,
}

/// R21: the normalised statuses (AfterShip's tags, plus `CANCELLED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackingStatus {
    Pending,
    InfoReceived,
    InTransit,
    OutForDelivery,
    FailedAttempt,
    AvailableForPickup,
    Delivered,
    Exception,
    Expired,
    Cancelled,
}

impl TrackingStatus {
    pub const ALL: [TrackingStatus; 10] = [
        Self::Pending,
        Self::InfoReceived,
        Self::InTransit,
        Self::OutForDelivery,
        Self::FailedAttempt,
        Self::AvailableForPickup,
        Self::Delivered,
        Self::Exception,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InfoReceived => "INFO_RECEIVED",
            Self::InTransit => "IN_TRANSIT",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::FailedAttempt => "FAILED_ATTEMPT",
            Self::AvailableForPickup => "AVAILABLE_FOR_PICKUP",
            Self::Delivered => "DELIVERED",
            Self::Exception => "EXCEPTION",
            Self::Expired => "EXPIRED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// R21: a real scan by the carrier (`IN_TRANSIT` or later; `EXCEPTION`, `EXPIRED` and
    /// `CANCELLED` are not scans, `INFO_RECEIVED` is only the label being announced).
    pub fn is_scan(self) -> bool {
        matches!(
            self,
            Self::InTransit
                | Self::OutForDelivery
                | Self::FailedAttempt
                | Self::AvailableForPickup
                | Self::Delivered
        )
    }

    /// R22: nothing more will happen; polling stops.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Expired | Self::Cancelled)
    }
}

impl fmt::Display for TrackingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tracking status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for TrackingStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What a tracking knows, derived from its events (R21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingFacts {
    pub status: TrackingStatus,
    /// Time of the latest event applied; the status is that event's.
    pub last_event_at: Option<DateTime<Utc>>,
    /// R21: the first real scan.
    pub confirmed_fulfillment_at: Option<DateTime<Utc>>,
    /// R21: the first `DELIVERED` event.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The first `CANCELLED` event (R15).
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl TrackingFacts {
    pub fn pending() -> Self {
        Self {
            status: TrackingStatus::Pending,
            last_event_at: None,
            confirmed_fulfillment_at: None,
            delivered_at: None,
            cancelled_at: None,
        }
    }
}

/// One event as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFact {
    pub occurred_at: DateTime<Utc>,
    pub status: TrackingStatus,
}

fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.min(b))
}

/// R21, R22: applies new events (each stored once, in any order of arrival) to a tracking.
/// The result is the same whatever order the events arrive in:
/// - the status is that of the latest event by event time (a late, older event never moves
///   it backwards; of events at the same instant the one applied last wins), except that a
///   cancelled tracking stays `CANCELLED`: its number is dead (R15, R16);
/// - the confirmed fulfilment time is the earliest scan ever seen (set by the first real scan,
///   moved only to an earlier scan that arrives late, never cleared by events: R15's removal
///   is an order-level decision of the workers);
/// - the delivered and cancelled times are the earliest such events.
pub fn apply_events(current: TrackingFacts, events: &[EventFact]) -> TrackingFacts {
    let mut facts = current;
    for event in events {
        if facts
            .last_event_at
            .is_none_or(|last| event.occurred_at >= last)
        {
            facts.last_event_at = Some(event.occurred_at);
            facts.status = event.status;
        }
        if event.status.is_scan() {
            facts.confirmed_fulfillment_at =
                Some(earliest(facts.confirmed_fulfillment_at, event.occurred_at));
        }
        match event.status {
            TrackingStatus::Delivered => {
                facts.delivered_at = Some(earliest(facts.delivered_at, event.occurred_at));
            }
            TrackingStatus::Cancelled => {
                facts.cancelled_at = Some(earliest(facts.cancelled_at, event.occurred_at));
            }
            _ => {}
        }
    }
    if facts.cancelled_at.is_some() {
        facts.status = TrackingStatus::Cancelled;
    }
    facts
}

/// R22: how often trackings are polled, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollCadence {
    /// While the parcel moves (an event in the last `quiet_after`).
    pub moving: Duration,
    /// Nothing from the carrier yet.
    pub pending: Duration,
    /// Moved once, quiet since.
    pub quiet: Duration,
    pub quiet_after: Duration,
    /// First back-off after a failed poll; doubles per failure up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A tracking older than this is never polled again (it is treated as expired).
    pub max_age: Duration,
}

impl Default for PollCadence {
    fn default() -> Self {
        Self {
            moving: Duration::hours(2),
            pending: Duration::hours(6),
            quiet: Duration::hours(12),
            quiet_after: Duration::days(3),
            backoff: Duration::minutes(15),
            max_backoff: Duration::hours(12),
            max_age: Duration::days(120),
        }
    }
}

/// What the last poll of a tracking gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    /// The carrier answered (with or without new events).
    Answered,
    /// The carrier failed or refused; `consecutive_failures` counts this one.
    Failed {
        consecutive_failures: u32,
        /// The carrier's own Retry-After, if it gave one.
        retry_after: Option<Duration>,
    },
}

/// R22: the next poll time, or `None` to stop polling (final status or too old).
pub fn next_poll_at(
    cadence: &PollCadence,
    facts: &TrackingFacts,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    result: PollResult,
) -> Option<DateTime<Utc>> {
    if facts.status.is_final() || now - created_at >= cadence.max_age {
        return None;
    }
    let wait = match result {
        PollResult::Failed {
            consecutive_failures,
            retry_after,
        } => {
            let doublings = consecutive_failures.saturating_sub(1).min(16);
            let backoff = cadence
                .backoff
                .checked_mul(1 << doublings)
                .map_or(cadence.max_backoff, |b| b.min(cadence.max_backoff));
            retry_after.map_or(backoff, |r| r.max(backoff))
        }
        PollResult::Answered => match facts.last_event_at {
            None => cadence.pending,
            Some(last) if now - last < cadence.quiet_after => cadence.moving,
            Some(_) => cadence.quiet,
        },
    };
    let at = now + wait;
    // Never schedule past the maximum age: one last poll at the limit, then stop.
    Some(at.min(created_at + cadence.max_age))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use TrackingStatus::*;

    fn t(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2021, 3, day, hour, 0, 0).unwrap()
    }

    fn ev(day: u32, hour: u32, status: TrackingStatus) -> EventFact {
        EventFact {
            occurred_at: t(day, hour),
            status,
        }
    }

    #[test]
    fn statuses_round_trip_by_name() {
        for status in TrackingStatus::ALL {
            assert_eq!(status.as_str().parse::<TrackingStatus>(), Ok(status));
        }
        assert!("SHIPPED".parse::<TrackingStatus>().is_err());
    }

    #[test]
    fn r21_confirmed_is_the_first_real_scan_not_info_or_exception() {
        let facts = apply_events(
            TrackingFacts::pending(),
            &[
                ev(1, 8, InfoReceived),
                ev(1, 9, Exception),
                ev(2, 10, InTransit),
                ev(3, 10, OutForDelivery),
            ],
        );
        assert_eq!(facts.confirmed_fulfillment_at, Some(t(2, 10)));
        assert_eq!(facts.status, OutForDelivery);
        assert_eq!(facts.delivered_at, None);
        let info_only = apply_events(TrackingFacts::pending(), &[ev(1, 8, InfoReceived)]);
        assert_eq!(info_only.confirmed_fulfillment_at, None);
        assert_eq!(info_only.status, InfoReceived);
    }

    #[test]
    fn r22_a_late_older_event_never_moves_the_status_backwards() {
        let delivered = apply_events(
            TrackingFacts::pending(),
            &[ev(2, 10, InTransit), ev(5, 10, Delivered)],
        );
        let late = apply_events(delivered, &[ev(3, 10, OutForDelivery)]);
        assert_eq!(late.status, Delivered);
        assert_eq!(late.last_event_at, Some(t(5, 10)));
        assert_eq!(late.delivered_at, Some(t(5, 10)));
        // An earlier scan arriving late is still the first real scan.
        let earlier_scan = apply_events(late, &[ev(1, 10, InTransit)]);
        assert_eq!(earlier_scan.confirmed_fulfillment_at, Some(t(1, 10)));
        assert_eq!(earlier_scan.status, Delivered);
    }

    #[test]
    fn r22_the_order_of_arrival_does_not_matter() {
        let events = [
            ev(1, 8, InfoReceived),
            ev(2, 10, InTransit),
            ev(4, 9, FailedAttempt),
            ev(5, 10, Delivered),
        ];
        let forward = apply_events(TrackingFacts::pending(), &events);
        let mut reversed = events;
        reversed.reverse();
        let backward = reversed.iter().fold(TrackingFacts::pending(), |facts, e| {
            apply_events(facts, std::slice::from_ref(e))
        });
        assert_eq!(forward, backward);
        assert_eq!(forward.status, Delivered);
        assert_eq!(forward.confirmed_fulfillment_at, Some(t(2, 10)));
    }

    #[test]
    fn r15_a_cancelled_tracking_stays_cancelled_and_keeps_its_confirmed_time() {
        let facts = apply_events(
            TrackingFacts::pending(),
            &[
                ev(2, 10, InTransit),
                ev(6, 10, Cancelled),
                ev(7, 10, InTransit),
            ],
        );
        assert_eq!(facts.status, Cancelled);
        assert_eq!(facts.cancelled_at, Some(t(6, 10)));
        assert_eq!(facts.confirmed_fulfillment_at, Some(t(2, 10)));
    }

    #[test]
    fn r22_poll_cadence_by_status_backoff_and_stop() {
        let c = PollCadence::default();
        let created = t(1, 0);
        let now = t(4, 0);
        let pending = TrackingFacts::pending();
        assert_eq!(
            next_poll_at(&c, &pending, created, now, PollResult::Answered),
            Some(now + c.pending)
        );
        let moving = apply_events(pending, &[ev(3, 12, InTransit)]);
        assert_eq!(
            next_poll_at(&c, &moving, created, now, PollResult::Answered),
            Some(now + c.moving)
        );
        let quiet_now = t(20, 0);
        assert_eq!(
            next_poll_at(&c, &moving, created, quiet_now, PollResult::Answered),
            Some(quiet_now + c.quiet)
        );
        // Back-off doubles, is capped, and honours a longer Retry-After.
        let failed = |n, retry_after| PollResult::Failed {
            consecutive_failures: n,
            retry_after,
        };
        assert_eq!(
            next_poll_at(&c, &moving, created, now, failed(1, None)),
            Some(now + c.backoff)
        );
        assert_eq!(
            next_poll_at(&c, &moving, created, now, failed(3, None)),
            Some(now + c.backoff * 4)
        );
        assert_eq!(
            next_poll_at(&c, &moving, created, now, failed(40, None)),
            Some(now + c.max_backoff)
        );
        assert_eq!(
            next_poll_at(
                &c,
                &moving,
                created,
                now,
                failed(1, Some(Duration::hours(1)))
            ),
            Some(now + Duration::hours(1))
        );
        // Final statuses and old trackings are never polled again.
        let delivered = apply_events(moving, &[ev(3, 18, Delivered)]);
        assert_eq!(
            next_poll_at(&c, &delivered, created, now, PollResult::Answered),
            None
        );
        assert_eq!(
            next_poll_at(
                &c,
                &moving,
                created,
                created + c.max_age,
                PollResult::Answered
            ),
            None
        );
        let near_limit = created + c.max_age - Duration::hours(1);
        assert_eq!(
            next_poll_at(&c, &moving, created, near_limit, PollResult::Answered),
            Some(created + c.max_age)
        );
    }
}
