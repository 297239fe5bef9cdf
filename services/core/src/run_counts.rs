//! The keys a worker run's `counts` (table `worker_runs`) uses for figures the server exports as
//! metrics of their own rather than as decisions (issue 20.2). CronJob pods live seconds, so the
//! poller writes its carrier figures into its run's row and the server's `/metrics` reads them
//! back; both sides name the keys through this module.
//!
//! - `poll:<carrier>:<outcome>`: carrier calls by outcome (`ok`, `not_found`, `rate_limited`...);
//! - `poll_le:<carrier>:<bound>`: calls that took at most `bound` seconds and more than the
//!   bound before it (one histogram bucket, not cumulative; `+Inf` for the rest);
//! - `poll_us:<carrier>`: the calls' total time in microseconds;
//! - `unknown:<carrier>:<code>`: events with a status code the carrier's table did not know.
//!
//! Carrier codes are short ASCII names without `:`; a status code may hold anything (it comes
//! from the carrier), so it is the last part and is taken whole.

/// Upper bounds, in seconds, of the carrier-call latency buckets.
pub const POLL_SECONDS_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One key of the family, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCountKey<'a> {
    Poll {
        carrier: &'a str,
        outcome: &'a str,
    },
    /// `bound` is `None` for `+Inf`.
    PollBucket {
        carrier: &'a str,
        bound: Option<f64>,
    },
    PollMicros {
        carrier: &'a str,
    },
    Unknown {
        carrier: &'a str,
        code: &'a str,
    },
}

impl RunCountKey<'_> {
    pub fn parse(key: &str) -> Option<RunCountKey<'_>> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "poll" => {
                let (carrier, outcome) = rest.split_once(':')?;
                Some(RunCountKey::Poll { carrier, outcome })
            }
            "poll_le" => {
                let (carrier, bound) = rest.split_once(':')?;
                let bound = match bound {
                    "+Inf" => None,
                    b => Some(b.parse().ok()?),
                };
                Some(RunCountKey::PollBucket { carrier, bound })
            }
            "poll_us" => Some(RunCountKey::PollMicros { carrier: rest }),
            "unknown" => {
                let (carrier, code) = rest.split_once(':')?;
                Some(RunCountKey::Unknown { carrier, code })
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for RunCountKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunCountKey::Poll { carrier, outcome } => write!(f, "poll:{carrier}:{outcome}"),
            RunCountKey::PollBucket {
                carrier,
                bound: Some(bound),
            } => write!(f, "poll_le:{carrier}:{bound}"),
            RunCountKey::PollBucket {
                carrier,
                bound: None,
            } => write!(f, "poll_le:{carrier}:+Inf"),
            RunCountKey::PollMicros { carrier } => write!(f, "poll_us:{carrier}"),
            RunCountKey::Unknown { carrier, code } => write!(f, "unknown:{carrier}:{code}"),
        }
    }
}

/// The SQL pattern of every key of this family (the decisions metric leaves them out).
pub const SQL_PATTERN: &str = "^(poll|poll_le|poll_us|unknown):";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_reads_back_as_written() {
        let keys = [
            RunCountKey::Poll {
                carrier: "inpost",
                outcome: "rate_limited",
            },
            RunCountKey::PollBucket {
                carrier: "inpost",
                bound: Some(0.25),
            },
            RunCountKey::PollBucket {
                carrier: "inpost",
                bound: None,
            },
            RunCountKey::PollMicros {
                carrier: "wishpost",
            },
            RunCountKey::Unknown {
                carrier: "wishpost",
                code: "odd:code with spaces",
            },
        ];
        for key in keys {
            let text = key.to_string();
            assert_eq!(RunCountKey::parse(&text), Some(key), "{text}");
        }
        assert_eq!(RunCountKey::parse("refunded"), None);
        assert_eq!(RunCountKey::parse("failed.inpost"), None);
        assert_eq!(RunCountKey::parse("poll_le:inpost:soon"), None);
    }
}
