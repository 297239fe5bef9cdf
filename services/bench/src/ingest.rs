//! `fulfillment-bench ingest`: ships `--trackings` orders with USPS tracking numbers (set-up,
//! not measured), then sends batches of new events for them with `IngestTrackingEvents` and
//! checks that every event was accepted. `services/bench/pgbench/ingest.sh` compares the rate
//! with PostgreSQL `COPY` of the very rows it stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use fulfillment_proto::v1::tracking_service_client::TrackingServiceClient;

use tonic::transport::Channel;

use crate::{
    BenchOrders, Driven, Step, channels, drive, parse_duration, percentile_ms, tracking_number,
    upsert_bench_merchant,
};

#[derive(clap::Args)]
pub struct IngestArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Concurrent callers sending batches.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// How long to send batches, e.g. `20s`, `1m`.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Events per IngestTrackingEvents call (the service takes at most 1000).
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Orders shipped beforehand, each with its own tracking; the events go round-robin over
    /// them, so a batch touches `min(batch-size, trackings)` trackings once each.
    #[arg(long, default_value_t = 2000)]
    trackings: usize,
    /// Concurrent callers for the set-up (releasing and shipping the orders).
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// HTTP/2 connections shared by the callers.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

/// A USPS parcel's life in AfterShip tags, with the carrier's wording: a tracking's k-th event
/// is step `k % len` (the cycle restarts after delivery, so every batch moves every tracking).
const STEPS: [(&str, &str, &str); 10] = [
    (
        "InfoReceived",
        "InfoReceived_001",
        "Shipping Label Created, USPS Awaiting Item",
    ),
    (
        "InTransit",
        "InTransit_002",
        "Accepted at USPS Origin Facility",
    ),
    (
        "InTransit",
        "InTransit_007",
        "Arrived at USPS Regional Origin Facility",
    ),
    (
        "InTransit",
        "InTransit_007",
        "Departed USPS Regional Facility",
    ),
    ("InTransit", "InTransit_001", "In Transit to Next Facility"),
    (
        "InTransit",
        "InTransit_007",
        "Arrived at USPS Regional Destination Facility",
    ),
    ("OutForDelivery", "OutForDelivery_001", "Out for Delivery"),
    (
        "AttemptFail",
        "AttemptFail_001",
        "Delivery Attempted - No Access to Delivery Location",
    ),
    ("OutForDelivery", "OutForDelivery_001", "Out for Delivery"),
    ("Delivered", "Delivered_001", "Delivered, In/At Mailbox"),
];

const LOCATIONS: [&str; 8] = [
    "CHICAGO IL DISTRIBUTION CENTER",
    "LOS ANGELES CA NETWORK DISTRIBUTION CENTER",
    "JERSEY CITY NJ NETWORK DISTRIBUTION CENTER",
    "DALLAS TX 75260",
    "SPRINGFIELD IL 62701",
    "ATLANTA GA DISTRIBUTION CENTER",
    "SEATTLE WA 98101",
    "DENVER CO NETWORK DISTRIBUTION CENTER",
];

/// The events of one run: event `n` (counted over the whole run) is for tracking
/// `n % trackings` and is that tracking's `n / trackings`-th event, so event ids are unique and
/// each tracking's events are later and later.
struct Events {
    run: i64,
    trackings: usize,
    /// Time of every tracking's first event: in the past, so no event is in the future.
    base: DateTime<Utc>,
}

impl Events {
    fn event(&self, n: usize) -> pb::TrackingEvent {
        let tracking = n % self.trackings;
        let round = n / self.trackings;
        let (tag, subtag, text) = STEPS[round % STEPS.len()];
        let location = LOCATIONS[(tracking + round) % LOCATIONS.len()];
        let offset = i64::try_from(round * 3600 + tracking % 3600).unwrap_or(i64::MAX);
        let at = self.base + chrono::Duration::seconds(offset);
        let number = tracking_number(self.run, tracking);
        let time = at.format("%Y-%m-%dT%H:%M:%SZ");
        // What an aggregator's checkpoint looks like, kept as received (~200 bytes).
        let raw_payload = format!(
            r#"{{"slug":"usps","tracking_number":"{number}","tag":"{tag}","subtag":"{subtag}","checkpoint_time":"{time}","location":"{location}","message":"{text}"}}"#
        );
        pb::TrackingEvent {
            carrier: "usps".into(),
            tracking_number: number,
            event_id: format!("{}-{n:010}", self.run),
            occurred_at: Some(prost_types::Timestamp {
                seconds: at.timestamp(),
                nanos: 0,
            }),
            carrier_status_code: tag.into(),
            carrier_status_text: text.into(),
            location: location.into(),
            raw_payload,
        }
    }

    fn batch(&self, index: usize, size: usize) -> Vec<pb::TrackingEvent> {
        (index * size..(index + 1) * size)
            .map(|n| self.event(n))
            .collect()
    }
}

/// What the service answered, summed over the batches.
#[derive(Default)]
struct Answers {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    unknown: AtomicU64,
    /// Batches whose `accepted` was not the number of events sent.
    short: AtomicU64,
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.setup_concurrency == 0 || args.trackings == 0 {
        bail!("--concurrency, --setup-concurrency and --trackings must be at least 1");
    }
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let channels = channels(&args.addr, args.connections).await?;
    let run = Utc::now().timestamp();
    set_up(&args, &channels, run).await?;
    let events = Arc::new(Events {
        run,
        trackings: args.trackings,
        base: DateTime::from_timestamp(run - 90 * 86_400, 0).unwrap_or_default(),
    });
    let answers = Arc::new(Answers::default());
    let clients: Vec<_> = channels
        .into_iter()
        .map(TrackingServiceClient::new)
        .collect();
    let started = Instant::now();
    let mut sent = send(&args, &clients, events, answers.clone()).await;
    let secs = started.elapsed().as_secs_f64();
    report(&args, &mut sent, &answers, secs);
    Ok(())
}

/// Set-up, not measured: one shipped order (so one tracking) per tracking number the events
/// name.
async fn set_up(args: &IngestArgs, channels: &[Channel], run: i64) -> anyhow::Result<()> {
    let clients: Vec<_> = channels
        .iter()
        .cloned()
        .map(FulfillmentServiceClient::new)
        .collect();
    let merchant = upsert_bench_merchant(&mut clients[0].clone(), run).await?;
    let orders = BenchOrders {
        clients: &clients,
        run,
        merchant: &merchant,
    };
    let started = Instant::now();
    let mut errors = 0;
    let mut notes = String::new();
    for step in [Step::Release, Step::Fulfill] {
        let driven = orders
            .drive(step, args.setup_concurrency, args.trackings, None)
            .await;
        errors += driven.errors;
        notes.push_str(&driven.first_error_note());
    }
    println!(
        "set-up (not measured): {} orders released and shipped with usps trackings in {:.1} s, {errors} errors{notes}",
        args.trackings,
        started.elapsed().as_secs_f64(),
    );
    if errors > 0 {
        bail!("the set-up failed; events for missing trackings would not be stored");
    }
    Ok(())
}

/// The measured part: batches of new events at `concurrency` callers for `duration`, each
/// answer summed into `answers`.
async fn send(
    args: &IngestArgs,
    clients: &[TrackingServiceClient<Channel>],
    events: Arc<Events>,
    answers: Arc<Answers>,
) -> Driven {
    let size = args.batch_size;
    drive(
        clients,
        args.concurrency,
        usize::MAX,
        Some(Instant::now() + args.duration),
        move |mut c, i| {
            let events = events.clone();
            let a = answers.clone();
            async move {
                // Built inside the call, so every caller builds its own batches in parallel.
                let request = pb::IngestTrackingEventsRequest {
                    events: events.batch(i, size),
                };
                let answer = c.ingest_tracking_events(request).await?.into_inner();
                let count = |n: i32| u64::try_from(n).unwrap_or(0);
                a.accepted
                    .fetch_add(count(answer.accepted), Ordering::Relaxed);
                a.duplicates
                    .fetch_add(count(answer.duplicates), Ordering::Relaxed);
                a.unknown
                    .fetch_add(count(answer.unknown_trackings), Ordering::Relaxed);
                if usize::try_from(answer.accepted).ok() != Some(size) {
                    a.short.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
        },
    )
    .await
}

/// The rate, the latencies, and whether every event sent was accepted.
fn report(args: &IngestArgs, sent: &mut Driven, answers: &Answers, secs: f64) {
    let size = args.batch_size;
    sent.latencies.sort();
    let batches = sent.latencies.len() - sent.errors;
    let events_sent = batches * size;
    let accepted = answers.accepted.load(Ordering::Relaxed);
    let short = answers.short.load(Ordering::Relaxed);
    println!(
        "ingest: {:.0} events/s, {:.1} batches/s of {size}, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
        accepted as f64 / secs,
        batches as f64 / secs,
        percentile_ms(&sent.latencies, 0.50),
        percentile_ms(&sent.latencies, 0.99),
        sent.errors,
        sent.first_error_note(),
    );
    if short == 0 {
        println!("check: every event accepted");
    } else {
        println!(
            "check: MISMATCH: {short} batches not fully accepted ({} duplicates, {} unknown trackings)",
            answers.duplicates.load(Ordering::Relaxed),
            answers.unknown.load(Ordering::Relaxed),
        );
    }
    println!(
        "events: {accepted} accepted of {events_sent} sent in {batches} batches over {secs:.1} s, {} callers",
        args.concurrency
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn events() -> Events {
        Events {
            run: 1_790_000_000,
            trackings: 2000,
            base: DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn event_ids_are_unique_and_each_tracking_moves_forward() {
        let events = events();
        let all: Vec<_> = (0..3).flat_map(|b| events.batch(b, 500)).collect();
        let ids: HashSet<_> = all.iter().map(|e| e.event_id.clone()).collect();
        assert_eq!(ids.len(), 1500);
        // One event per tracking per batch while the batch is no larger than the trackings.
        let numbers: HashSet<_> = events
            .batch(1, 500)
            .iter()
            .map(|e| e.tracking_number.clone())
            .collect();
        assert_eq!(numbers.len(), 500);
        let first = events.event(7);
        let next = events.event(2007);
        assert_eq!(first.tracking_number, next.tracking_number);
        let seconds = |e: &pb::TrackingEvent| e.occurred_at.map(|t| t.seconds).unwrap_or_default();
        assert!(seconds(&next) > seconds(&first));
    }

    #[test]
    fn events_look_like_carrier_checkpoints() {
        let events = events();
        for n in [0, 1999, 2000, 123_456] {
            let e = events.event(n);
            assert!((8..=40).contains(&e.tracking_number.len()));
            assert!(e.tracking_number.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(
                (180..=260).contains(&e.raw_payload.len()),
                "{}",
                e.raw_payload.len()
            );
        }
    }
}
