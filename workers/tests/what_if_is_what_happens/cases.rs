//! The generated cases: a small deterministic generator (SplitMix64), the merchants' countries
//! and carriers as callers spell them, and the decision groups the cases gather around.

use chrono::{DateTime, Duration, Utc};
use fulfillment_policy::cancellation::CancelledBy;

use crate::at;

/// SplitMix64: small, deterministic, good enough to spread cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub fn upto(&mut self, max: i64) -> i64 {
        assert!(max >= 0);
        (self.next() % (max as u64 + 1)) as i64
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    /// A duration in `0..=max`, in whole seconds, sometimes with milliseconds.
    pub fn duration_upto(&mut self, max: Duration) -> Duration {
        let secs = self.upto(max.num_seconds());
        let ms = if self.percent(20) && secs < max.num_seconds() {
            self.upto(999)
        } else {
            0
        };
        Duration::seconds(secs) + Duration::milliseconds(ms)
    }
}

/// Merchant countries as the merchant directory may send them (upsert normalises the case).
pub const COUNTRIES: &[&str] = &[
    "CN", "CN", "CN", "cn", " Cn ", "US", "us", "BR", "br", "HK", "TW", "PL",
];
/// Carriers an order may ship with; WishPost most often, in the spellings callers send.
const CARRIERS: &[&str] = &[
    "wishpost",
    "wishpost",
    "wishpost",
    "wishpost",
    "WishPost",
    "usps",
    "yanwen",
    "china-post",
];

#[derive(Debug, Clone)]
pub struct Case {
    pub order_id: String,
    pub country: &'static str,
    pub aplus: bool,
    pub carrier: &'static str,
    pub scanned: bool,
    pub released: DateTime<Utc>,
    pub cancelled: DateTime<Utc>,
    /// When the cancellation reached us (the carrier's time is `cancelled`).
    pub received: DateTime<Utc>,
    pub by: CancelledBy,
}

impl Case {
    pub fn merchant_id(&self) -> String {
        let i = COUNTRIES.iter().position(|c| *c == self.country).unwrap();
        format!("m-{i}")
    }

    pub fn number(&self) -> String {
        format!("LX{}", self.order_id.to_uppercase().replace('-', ""))
    }

    pub fn ship_at(&self) -> DateTime<Utc> {
        self.released + (self.cancelled - self.released) / 4
    }

    pub fn scanned_at(&self) -> DateTime<Utc> {
        self.released + (self.cancelled - self.released) / 2
    }
}

/// A decision moment and what its cases' times gather around.
pub struct Group {
    pub name: &'static str,
    pub decided_at: DateTime<Utc>,
    /// Initial releases pinned just around this moment (R15's date), for some cases.
    pub release_anchor: Option<DateTime<Utc>>,
    /// Cancellations pinned just around this moment (R16's start), for some cases.
    pub cancel_anchor: Option<DateTime<Utc>>,
    /// The re-release window in force at `decided_at`, to cross it.
    pub threshold_days: i64,
}

pub fn groups() -> Vec<Group> {
    vec![
        Group {
            name: "around R15's 2020-11-10",
            decided_at: at(2020, 12, 5, 7, 30),
            release_anchor: Some(at(2020, 11, 10, 0, 0)),
            cancel_anchor: None,
            threshold_days: 25,
        },
        Group {
            name: "around R16's 2021-03-04",
            decided_at: at(2021, 3, 9, 16, 45),
            release_anchor: None,
            cancel_anchor: Some(at(2021, 3, 4, 0, 0)),
            threshold_days: 25,
        },
        Group {
            name: "mid 2021",
            decided_at: at(2021, 6, 15, 23, 59),
            release_anchor: None,
            cancel_anchor: None,
            threshold_days: 25,
        },
        Group {
            name: "policy v2 (2024)",
            decided_at: at(2024, 2, 20, 0, 10),
            release_anchor: None,
            cancel_anchor: None,
            threshold_days: 20,
        },
        Group {
            name: "2026",
            decided_at: at(2026, 11, 10, 12, 0),
            release_anchor: None,
            cancel_anchor: None,
            threshold_days: 25,
        },
    ]
}

pub fn generate(rng: &mut Rng, group: &Group, gi: usize, n: usize) -> Vec<Case> {
    let t = group.decided_at;
    let min_gap = Duration::minutes(3);
    (0..n)
        .map(|i| {
            // Decision delay after the cancellation: 0..10 days, sometimes exactly 0.
            let mut delay = if rng.percent(5) {
                Duration::zero()
            } else {
                rng.duration_upto(Duration::days(10))
            };
            // Cancellation 0..40 days after the release; often just around the threshold.
            let mut gap = if rng.percent(40) {
                Duration::days(group.threshold_days - 1) + rng.duration_upto(Duration::hours(48))
                    - Duration::hours(1)
            } else {
                min_gap + rng.duration_upto(Duration::days(40) - min_gap)
            };
            if let Some(anchor) = group.release_anchor
                && rng.percent(35)
            {
                // Released just before, on, or just after the anchor.
                let released = anchor + Duration::seconds(rng.upto(7200) - 3600);
                let released = if rng.percent(30) { anchor } else { released };
                let total = t - released;
                delay = Duration::seconds(rng.upto(Duration::days(10).num_seconds()));
                gap = total - delay;
            }
            if let Some(anchor) = group.cancel_anchor
                && rng.percent(40)
            {
                let cancelled = anchor + Duration::seconds(rng.upto(7200) - 3600);
                let cancelled = if rng.percent(30) { anchor } else { cancelled };
                delay = t - cancelled;
            }
            assert!(gap >= min_gap && gap <= Duration::days(40), "{gap}");
            assert!(delay >= Duration::zero() && delay <= Duration::days(10));
            let cancelled = t - delay;
            let released = cancelled - gap;
            let received = cancelled + rng.duration_upto(delay);
            Case {
                order_id: format!("g{gi}-o{i:03}"),
                country: rng.pick(COUNTRIES),
                aplus: rng.percent(40),
                carrier: rng.pick(CARRIERS),
                scanned: rng.percent(80),
                released,
                cancelled,
                received,
                by: if rng.percent(60) {
                    CancelledBy::Carrier
                } else {
                    CancelledBy::Merchant
                },
            }
        })
        .collect()
}
