//! The carrier figures (issue 20.2): calls by carrier and outcome with their latency, and the
//! status codes no carrier table knew. The poller measures them and writes them into its runs'
//! counts (`fulfillment_core::run_counts`); the server adds the unknown codes it saw itself
//! (pushed events, webhooks). Read at each scrape, encoded as counters and a histogram.

use std::collections::BTreeMap;
use std::sync::Mutex;

use fulfillment_core::run_counts::{POLL_SECONDS_BUCKETS, RunCountKey};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Most (carrier, code) pairs exported: codes come from outside, so the series are bounded.
const MAX_UNKNOWN_SERIES: usize = 500;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    pub polls: BTreeMap<(String, String), u64>,
    /// Per carrier: per-bucket counts (then `+Inf`) and the total time in microseconds.
    pub latency: BTreeMap<String, ([u64; POLL_SECONDS_BUCKETS.len() + 1], u64)>,
    pub unknown: BTreeMap<(String, String), u64>,
}

impl Snapshot {
    /// Sums the runs' counts (`key`, total over runs) and the server's own unknown sightings.
    pub fn from_counts<'a>(
        counts: impl IntoIterator<Item = (&'a str, i64)>,
        served_unknown: impl IntoIterator<Item = (String, String, u64)>,
    ) -> Self {
        let mut snapshot = Snapshot::default();
        for (key, n) in counts {
            let n = u64::try_from(n).unwrap_or(0);
            match RunCountKey::parse(key) {
                Some(RunCountKey::Poll { carrier, outcome }) => {
                    *snapshot
                        .polls
                        .entry((carrier.to_owned(), outcome.to_owned()))
                        .or_default() += n;
                }
                Some(RunCountKey::PollBucket { carrier, bound }) => {
                    let i = match bound {
                        None => Some(POLL_SECONDS_BUCKETS.len()),
                        Some(b) => POLL_SECONDS_BUCKETS.iter().position(|x| *x == b),
                    };
                    if let Some(i) = i {
                        snapshot.latency.entry(carrier.to_owned()).or_default().0[i] += n;
                    }
                }
                Some(RunCountKey::PollMicros { carrier }) => {
                    snapshot.latency.entry(carrier.to_owned()).or_default().1 += n;
                }
                Some(RunCountKey::Unknown { carrier, code }) => {
                    *snapshot
                        .unknown
                        .entry((carrier.to_owned(), code.to_owned()))
                        .or_default() += n;
                }
                None => {}
            }
        }
        for (carrier, code, n) in served_unknown {
            *snapshot.unknown.entry((carrier, code)).or_default() += n;
        }
        if snapshot.unknown.len() > MAX_UNKNOWN_SERIES {
            let mut by_count: Vec<_> = std::mem::take(&mut snapshot.unknown).into_iter().collect();
            by_count.sort_by_key(|entry| std::cmp::Reverse(entry.1));
            by_count.truncate(MAX_UNKNOWN_SERIES);
            snapshot.unknown = by_count.into_iter().collect();
        }
        snapshot
    }
}

/// The latest snapshot, encoded at each scrape.
#[derive(Debug, Default)]
pub struct CarrierFigures(Mutex<Snapshot>);

impl CarrierFigures {
    pub fn set(&self, snapshot: Snapshot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    carrier: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CarrierLabels {
    carrier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnknownLabels {
    carrier: String,
    code: String,
}

/// A counter's value as read from the database (prometheus-client's own counters only go up
/// from where the process started).
#[derive(Debug)]
struct Total(u64);

impl EncodeMetric for Total {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.0, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

impl Collector for CarrierFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut polls = encoder.encode_descriptor(
            "fulfillment_carrier_polls",
            "Carrier tracking calls made by the poller, by carrier and outcome",
            None,
            MetricType::Counter,
        )?;
        for ((carrier, outcome), n) in &snapshot.polls {
            let labels = PollLabels {
                carrier: carrier.clone(),
                outcome: outcome.clone(),
            };
            Total(*n).encode(polls.encode_family(&labels)?)?;
        }
        let mut latency = encoder.encode_descriptor(
            "fulfillment_carrier_poll_duration_seconds",
            "Time a carrier took to answer a tracking call, by carrier",
            None,
            MetricType::Histogram,
        )?;
        for (carrier, (buckets, micros)) in &snapshot.latency {
            let labels = CarrierLabels {
                carrier: carrier.clone(),
            };
            let bounds = POLL_SECONDS_BUCKETS.iter().copied().chain([f64::INFINITY]);
            let buckets: Vec<(f64, u64)> = bounds.zip(buckets.iter().copied()).collect();
            let count = buckets.iter().map(|(_, n)| n).sum();
            #[allow(clippy::cast_precision_loss)] // microseconds summed stay far below 2^52
            let sum = *micros as f64 / 1e6;
            latency
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        let mut unknown = encoder.encode_descriptor(
            "fulfillment_carrier_unknown_statuses",
            "Events whose carrier status code no table knew, by carrier and code (R21)",
            None,
            MetricType::Counter,
        )?;
        for ((carrier, code), n) in &snapshot.unknown {
            let labels = UnknownLabels {
                carrier: carrier.clone(),
                code: code.clone(),
            };
            Total(*n).encode(unknown.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_counts_and_the_servers_sightings_add_up() {
        let counts = [
            ("poll:inpost:ok", 3),
            ("poll:inpost:ok", 2),
            ("poll_le:inpost:0.05", 4),
            ("poll_le:inpost:+Inf", 1),
            ("poll_us:inpost", 1_500_000),
            ("unknown:wishpost:99", 2),
            ("refunded", 7),
        ];
        let snapshot = Snapshot::from_counts(counts, [("wishpost".into(), "99".into(), 1)]);
        assert_eq!(snapshot.polls[&("inpost".into(), "ok".into())], 5);
        let (buckets, micros) = snapshot.latency["inpost"];
        assert_eq!(buckets[0], 4);
        assert_eq!(buckets[POLL_SECONDS_BUCKETS.len()], 1);
        assert_eq!(micros, 1_500_000);
        assert_eq!(snapshot.unknown[&("wishpost".into(), "99".into())], 3);
    }
}
