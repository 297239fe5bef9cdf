//! `tracker-poller` (R22): claims the trackings due for a poll in batches (leased with
//! `FOR UPDATE SKIP LOCKED`, so concurrent pollers take disjoint work), asks each carrier with
//! bounded concurrency and a per-carrier rate limit, stores what it answers through the one
//! ingest path, and schedules the next poll. One failing carrier never stops the run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use diesel::prelude::*;
use fulfillment_carriers::config::DEFAULT_REQUESTS_PER_SECOND;
use fulfillment_carriers::{CarrierConfig, Registry, TrackError, TrackingClient};
use fulfillment_core::models::Tracking;
use fulfillment_core::schema::intelipost_integrations;
use fulfillment_core::{Db, ServiceResult, SharedClock, repo};
use fulfillment_orders::Actor;
use fulfillment_policy::tracking_number::known_carriers;
use fulfillment_policy::tracking_status::PollCadence;
use fulfillment_tracking::intelipost;
use fulfillment_tracking::tracking::{self, IncomingEvent};
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::poll_stats::{CarrierPolls, UnknownBaseline, outcome};

pub const NAME: &str = "tracker-poller";

#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// Trackings claimed per batch.
    pub batch_size: i64,
    /// Carrier calls in flight at once.
    pub concurrency: usize,
    /// How long a claim holds a tracking; longer than a batch can take.
    pub lease: Duration,
    pub cadence: PollCadence,
    /// Stop after this many batches (default: until nothing is due).
    pub max_batches: Option<usize>,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            concurrency: 8,
            lease: Duration::minutes(10),
            cadence: PollCadence::default(),
            max_batches: None,
        }
    }
}

/// What one run did: the summary line's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub claimed: usize,
    pub polled: usize,
    /// Trackings whose facts changed (new status, confirmed or delivered time...).
    pub changed: usize,
    pub failed: usize,
    /// Events stored for the first time are counted by `changed`; this counts those seen.
    pub events: usize,
    /// R13: Intelipost trackings of merchants without the integration (not ours to pull).
    pub skipped: usize,
    /// Failures per carrier, so one bad carrier shows in the summary.
    pub failed_by_carrier: BTreeMap<String, usize>,
    /// Calls by carrier: outcomes and latency (the server's carrier metrics, issue 20.2).
    pub polls: BTreeMap<String, CarrierPolls>,
    /// Status codes no carrier table knew, seen in this run, by (carrier, code).
    pub unknown_statuses: BTreeMap<(String, String), u64>,
}

impl crate::runs::RunCounts for PollSummary {
    fn counts(&self) -> BTreeMap<String, i64> {
        let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let mut counts = BTreeMap::from([
            ("claimed".to_owned(), n(self.claimed)),
            ("polled".to_owned(), n(self.polled)),
            ("changed".to_owned(), n(self.changed)),
            ("failed".to_owned(), n(self.failed)),
            ("events".to_owned(), n(self.events)),
            ("skipped".to_owned(), n(self.skipped)),
        ]);
        for (carrier, failed) in &self.failed_by_carrier {
            counts.insert(format!("failed.{carrier}"), n(*failed));
        }
        for (carrier, polls) in &self.polls {
            polls.write_counts(carrier, &mut counts);
        }
        for ((carrier, code), seen) in &self.unknown_statuses {
            let key = fulfillment_core::run_counts::RunCountKey::Unknown { carrier, code };
            counts.insert(key.to_string(), i64::try_from(*seen).unwrap_or(i64::MAX));
        }
        counts
    }
}

impl std::fmt::Display for PollSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{NAME}: claimed={} polled={} changed={} failed={} events={} skipped={}",
            self.claimed, self.polled, self.changed, self.failed, self.events, self.skipped
        )?;
        for (carrier, n) in &self.failed_by_carrier {
            write!(f, " failed[{carrier}]={n}")?;
        }
        Ok(())
    }
}

/// Spaces one carrier's calls at least `interval` apart, across all tasks of this process.
struct RateLimit {
    interval: StdDuration,
    next: Mutex<Instant>,
}

impl RateLimit {
    fn per_second(n: u32) -> Self {
        Self {
            interval: StdDuration::from_secs(1) / n.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

pub struct Poller {
    db: Db,
    clock: SharedClock,
    registry: Registry,
    config: PollerConfig,
    limits: HashMap<String, Arc<RateLimit>>,
    actor: Actor,
}

/// The outcome of one tracking's poll.
enum Polled {
    Answered { changed: bool, events: usize },
    Failed,
    Skipped,
}

impl Poller {
    pub fn new(db: Db, clock: SharedClock, registry: Registry, config: PollerConfig) -> Self {
        Self {
            db,
            clock,
            registry,
            config,
            limits: HashMap::new(),
            actor: Actor(format!("worker:{NAME}")),
        }
    }

    /// The carriers this poller can ask: those with a client, and every known carrier when
    /// AfterShip serves the rest.
    pub fn carriers(&self) -> Vec<String> {
        let mut codes: HashSet<String> = self.registry.carriers().into_iter().collect();
        if self.registry.has_aftership() {
            codes.extend(known_carriers().iter().map(|c| c.code.to_owned()));
        }
        let mut codes: Vec<String> = codes.into_iter().collect();
        codes.sort();
        codes
    }

    /// The rate limit of the API that serves `carrier`: its own, or AfterShip's (one account
    /// for every carrier it serves, so one limit for all of them).
    fn limit(&mut self, carrier: &str) -> Arc<RateLimit> {
        let api = if self.registry.carriers().iter().any(|c| c == carrier) {
            carrier
        } else {
            "aftership"
        };
        self.limits
            .entry(api.to_owned())
            .or_insert_with(|| {
                let rps = CarrierConfig::from_env(api)
                    .map_or(DEFAULT_REQUESTS_PER_SECOND, |config| {
                        config.requests_per_second
                    });
                Arc::new(RateLimit::per_second(rps))
            })
            .clone()
    }

    /// `--dry-run`: what is due, per carrier, without claiming or calling anything.
    pub async fn due(&self) -> ServiceResult<BTreeMap<String, i64>> {
        use fulfillment_core::schema::trackings;
        let carriers = self.carriers();
        let now = self.clock.now();
        let rows: Vec<(String, i64)> = self
            .db
            .run(move |conn| {
                Ok(trackings::table
                    .filter(trackings::next_poll_at.le(now))
                    .filter(trackings::carrier.eq_any(carriers))
                    .group_by(trackings::carrier)
                    .select((trackings::carrier, diesel::dsl::count_star()))
                    .load(conn)?)
            })
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Polls until nothing is due (or `max_batches`), batch by batch.
    pub async fn run_once(&mut self) -> ServiceResult<PollSummary> {
        let mut summary = PollSummary::default();
        let unknown = UnknownBaseline::now();
        let carriers = self.carriers();
        let mut batches = 0;
        loop {
            if self.config.max_batches.is_some_and(|max| batches >= max) {
                break;
            }
            let now = self.clock.now();
            let lease_until = now + self.config.lease;
            let limit = self.config.batch_size;
            let claim_carriers = carriers.clone();
            let claimed = self
                .db
                .transaction(move |conn| {
                    Ok(repo::trackings::claim_due(
                        conn,
                        &claim_carriers,
                        now,
                        lease_until,
                        limit,
                    )?)
                })
                .await?;
            if claimed.is_empty() {
                break;
            }
            batches += 1;
            summary.claimed += claimed.len();
            self.poll_batch(claimed, &mut summary).await?;
            tracing::info!(
                worker = NAME,
                batches,
                claimed = summary.claimed,
                changed = summary.changed,
                failed = summary.failed,
                "progress"
            );
        }
        summary.unknown_statuses = unknown.since();
        Ok(summary)
    }

    async fn poll_batch(
        &mut self,
        claimed: Vec<Tracking>,
        summary: &mut PollSummary,
    ) -> ServiceResult<()> {
        let connected = self.intelipost_connected(&claimed).await?;
        let semaphore = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for tracking in claimed {
            let carrier = tracking.carrier.clone();
            // R13: without the merchant's integration, Intelipost data is not ours to pull;
            // connecting it re-arms the polling.
            let skip = carrier == intelipost::CARRIER && !connected.contains(&tracking.merchant_id);
            let client = if skip {
                None
            } else {
                self.registry.get(&carrier)
            };
            let limit = self.limit(&carrier);
            let semaphore = semaphore.clone();
            let db = self.db.clone();
            let clock = self.clock.clone();
            let cadence = self.config.cadence;
            let actor = self.actor.clone();
            // A task does not inherit the run's span: give it a child one, so the carrier
            // request carries this run's trace (issue 20.3).
            let span = tracing::info_span!("carrier_poll", carrier = %carrier);
            tasks.spawn(tracing::Instrument::instrument(
                async move {
                    let outcome = poll_one(
                        &db, &clock, &actor, &cadence, tracking, client, &limit, &semaphore,
                    )
                    .await;
                    let (polled, call) = match outcome {
                        Ok((polled, call)) => (Ok(polled), call),
                        Err(e) => (Err(e), None),
                    };
                    (carrier, (polled, call))
                },
                span,
            ));
        }
        while let Some(joined) = tasks.join_next().await {
            let (carrier, (outcome, call)) = match joined {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(worker = NAME, error = %e, "a poll task failed");
                    summary.failed += 1;
                    continue;
                }
            };
            if let Some((answer, took)) = call {
                summary
                    .polls
                    .entry(carrier.clone())
                    .or_default()
                    .record(answer, took);
            }
            match outcome {
                Ok(Polled::Answered { changed, events }) => {
                    summary.polled += 1;
                    summary.events += events;
                    summary.changed += usize::from(changed);
                }
                Ok(Polled::Failed) => {
                    summary.failed += 1;
                    *summary.failed_by_carrier.entry(carrier).or_default() += 1;
                }
                Ok(Polled::Skipped) => summary.skipped += 1,
                // The database failing is not the carrier's fault: stop the run loudly.
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn intelipost_connected(&self, claimed: &[Tracking]) -> ServiceResult<HashSet<String>> {
        let merchants: Vec<String> = claimed
            .iter()
            .filter(|t| t.carrier == intelipost::CARRIER)
            .map(|t| t.merchant_id.clone())
            .collect();
        if merchants.is_empty() {
            return Ok(HashSet::new());
        }
        self.db
            .run(move |conn| {
                Ok(intelipost_integrations::table
                    .filter(intelipost_integrations::merchant_id.eq_any(merchants))
                    .filter(intelipost_integrations::connected.eq(true))
                    .select(intelipost_integrations::merchant_id)
                    .load::<String>(conn)?
                    .into_iter()
                    .collect())
            })
            .await
    }
}

#[allow(clippy::too_many_arguments)]
async fn poll_one(
    db: &Db,
    clock: &SharedClock,
    actor: &Actor,
    cadence: &PollCadence,
    tracking: Tracking,
    client: Option<Arc<dyn TrackingClient>>,
    limit: &RateLimit,
    semaphore: &Semaphore,
) -> ServiceResult<(Polled, Option<CarrierCall>)> {
    let Some(client) = client else {
        let id = tracking.id;
        let now = clock.now();
        db.transaction(move |conn| {
            Ok(repo::trackings::set_next_poll(
                conn,
                id,
                None,
                tracking.poll_failures,
                now,
            )?)
        })
        .await?;
        return Ok((Polled::Skipped, None));
    };
    let (answer, took) = {
        let _permit = semaphore.acquire().await;
        limit.wait().await;
        // The carrier's time only: the wait for a permit and the rate limit are ours.
        let started = Instant::now();
        let answer = client.track(&tracking.tracking_number).await;
        (answer, started.elapsed())
    };
    let call = Some((outcome(&answer), took));
    let now = clock.now();
    let id = tracking.id;
    let report = match answer {
        Ok(report) => report.events,
        // The carrier does not know the number yet (labels are announced late): nothing
        // happened, so the pending cadence applies, not a back-off.
        Err(TrackError::NotFound) => Vec::new(),
        Err(e) => {
            tracing::warn!(
                worker = NAME,
                carrier = %tracking.carrier,
                tracking_id = id,
                error = %e,
                "poll failed"
            );
            let retry_after = e.retry_after().and_then(|d| Duration::from_std(d).ok());
            let cadence = *cadence;
            db.transaction(move |conn| {
                tracking::record_poll_failure(conn, now, &tracking, &cadence, retry_after)
            })
            .await?;
            return Ok((Polled::Failed, call));
        }
    };
    let events: Vec<IncomingEvent> = report
        .into_iter()
        .map(|e| {
            IncomingEvent::new(
                tracking.carrier.clone(),
                tracking.tracking_number.clone(),
                e,
            )
        })
        .collect();
    let seen = events.len();
    let actor = actor.clone();
    let cadence = *cadence;
    let changed = db
        .transaction(move |conn| tracking::record_poll(conn, now, &actor, id, &events, &cadence))
        .await?;
    Ok((
        Polled::Answered {
            changed,
            events: seen,
        },
        call,
    ))
}

/// A carrier call's outcome and how long the carrier took.
type CarrierCall = (&'static str, StdDuration);
