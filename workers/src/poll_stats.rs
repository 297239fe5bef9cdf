//! What one poller run measured per carrier (issue 20.2): calls by outcome, their latency, and
//! the status codes no table knew. Written into the run's `counts` under the keys of
//! [`fulfillment_core::run_counts`], which the server exports on `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use fulfillment_carriers::TrackError;
use fulfillment_carriers::normalize::unknown_status_counts;
use fulfillment_core::run_counts::{POLL_SECONDS_BUCKETS, RunCountKey};

/// One carrier's calls in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarrierPolls {
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Per bucket of [`POLL_SECONDS_BUCKETS`], then `+Inf` (not cumulative).
    pub buckets: [usize; POLL_SECONDS_BUCKETS.len() + 1],
    pub micros: u64,
}

/// The bounded name of a call's outcome (a metric label).
pub fn outcome<T>(answer: &Result<T, TrackError>) -> &'static str {
    match answer {
        Ok(_) => "ok",
        Err(TrackError::NotFound) => "not_found",
        Err(TrackError::Unauthorized) => "unauthorized",
        Err(TrackError::RateLimited { .. }) => "rate_limited",
        Err(TrackError::Carrier { .. }) => "carrier_error",
        Err(TrackError::Timeout) => "timeout",
        Err(TrackError::Transport(_)) => "transport_error",
        Err(TrackError::Malformed(_)) => "malformed",
    }
}

impl CarrierPolls {
    pub fn record(&mut self, outcome: &'static str, took: Duration) {
        *self.outcomes.entry(outcome).or_default() += 1;
        let seconds = took.as_secs_f64();
        let bucket = POLL_SECONDS_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(POLL_SECONDS_BUCKETS.len());
        self.buckets[bucket] += 1;
        self.micros = self
            .micros
            .saturating_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn write_counts(&self, carrier: &str, counts: &mut BTreeMap<String, i64>) {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        for (outcome, calls) in &self.outcomes {
            counts.insert(
                RunCountKey::Poll { carrier, outcome }.to_string(),
                n(*calls),
            );
        }
        for (i, calls) in self.buckets.iter().enumerate() {
            let bound = POLL_SECONDS_BUCKETS.get(i).copied();
            counts.insert(
                RunCountKey::PollBucket { carrier, bound }.to_string(),
                n(*calls),
            );
        }
        counts.insert(
            RunCountKey::PollMicros { carrier }.to_string(),
            i64::try_from(self.micros).unwrap_or(i64::MAX),
        );
    }
}

/// The process's unknown-status counter when a run starts, so the run records only its own
/// sightings (a daemon runs many times in one process).
#[derive(Debug, Clone, Default)]
pub struct UnknownBaseline(HashMap<(String, String), u64>);

impl UnknownBaseline {
    pub fn now() -> Self {
        Self(
            unknown_status_counts()
                .into_iter()
                .map(|c| ((c.carrier, c.code), c.count))
                .collect(),
        )
    }

    /// Sightings since the baseline, by (carrier, code).
    pub fn since(&self) -> BTreeMap<(String, String), u64> {
        unknown_status_counts()
            .into_iter()
            .filter_map(|c| {
                let before = self
                    .0
                    .get(&(c.carrier.clone(), c.code.clone()))
                    .copied()
                    .unwrap_or(0);
                (c.count > before).then(|| ((c.carrier, c.code), c.count - before))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_lands_in_the_first_bucket_that_holds_it_and_all_is_written() {
        let mut polls = CarrierPolls::default();
        polls.record("ok", Duration::from_millis(40));
        polls.record("ok", Duration::from_millis(100));
        polls.record("timeout", Duration::from_secs(30));
        assert_eq!(polls.buckets[0], 1);
        assert_eq!(polls.buckets[1], 1, "0.1 s is within the 0.1 bucket");
        assert_eq!(polls.buckets[POLL_SECONDS_BUCKETS.len()], 1);
        let mut counts = BTreeMap::new();
        polls.write_counts("inpost", &mut counts);
        assert_eq!(counts["poll:inpost:ok"], 2);
        assert_eq!(counts["poll:inpost:timeout"], 1);
        assert_eq!(counts["poll_le:inpost:+Inf"], 1);
        assert_eq!(counts["poll_us:inpost"], 30_140_000);
    }
}
