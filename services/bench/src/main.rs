//! `fulfillment-bench`: drives the gRPC API and prints throughput and latency. Each subcommand
//! sets up what it needs first (not measured), then measures one RPC alone: `fulfill`
//! (`FulfillOrder`), `ingest` (`IngestTrackingEvents`, see `ingest.rs`), `export` and `upload`
//! (the spreadsheet RPCs, see `bulk.rs`), `simulate` (`SimulatePolicy`, see `simulate.rs`).

mod bulk;
mod fulfill_sql;
mod hot_paths;
mod ingest;
mod pgbench;
mod simulate;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(
    name = "fulfillment-bench",
    about = "Load generator for the fulfillment gRPC API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Release orders (warm-up, not measured), then mark them shipped with FulfillOrder.
    Fulfill(FulfillArgs),
    /// Ship orders with USPS trackings (not measured), then push new events for them with
    /// IngestTrackingEvents, in batches.
    Ingest(ingest::IngestArgs),
    /// Stream a (seeded) merchant's orders with ExportOrders.
    Export(bulk::ExportArgs),
    /// Upload a CSV shipping every (seeded) order of a merchant and follow the bulk job.
    Upload(bulk::UploadArgs),
    /// Time SimulatePolicy over a seeded history: the version in force (must reproduce it),
    /// then another re-release window.
    Simulate(simulate::SimulateArgs),
    /// The hot paths next to pgbench doing the same work, in one run (see `hot_paths.rs`).
    Hot(hot_paths::HotArgs),
}

#[derive(clap::Args)]
struct FulfillArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Concurrent callers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to drive FulfillOrder, e.g. `20s`, `1m`.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Orders released beforehand; the run stops early (and says so) if they run out.
    #[arg(long, default_value_t = 40_000)]
    orders: usize,
    /// HTTP/2 connections shared by the callers.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("unknown unit in {text:?} (use ms, s or m)")),
    }
}

/// `n` HTTP/2 connections, shared round-robin by the callers.
async fn channels(addr: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n.max(1) {
        let channel = Channel::from_shared(addr.to_owned())?
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        out.push(channel);
    }
    Ok(out)
}

fn order_id(run: i64, i: usize) -> String {
    format!("bench-{run}-{i}")
}

/// The tracking number order `i` of run `run` is shipped with (distinct per order).
fn tracking_number(run: i64, i: usize) -> String {
    format!("BENCH{run}X{i:010}")
}

/// Creates (or updates) this run's merchant and returns its id.
/// `connections` clients of the FulfillmentService, this run's number (a timestamp: ids of
/// different runs never collide) and the run's merchant.
async fn bench_merchant(
    addr: &str,
    connections: usize,
) -> anyhow::Result<(Vec<FulfillmentServiceClient<Channel>>, i64, String)> {
    let clients: Vec<_> = channels(addr, connections)
        .await?
        .into_iter()
        .map(FulfillmentServiceClient::new)
        .collect();
    let run = chrono::Utc::now().timestamp();
    let merchant = upsert_bench_merchant(&mut clients[0].clone(), run).await?;
    Ok((clients, run, merchant))
}

async fn upsert_bench_merchant(
    client: &mut FulfillmentServiceClient<Channel>,
    run: i64,
) -> anyhow::Result<String> {
    let merchant = format!("bench-{run}");
    client
        .upsert_merchant(pb::UpsertMerchantRequest {
            merchant: Some(pb::Merchant {
                id: merchant.clone(),
                name: "Load generator".into(),
                country: "US".into(),
                ..Default::default()
            }),
        })
        .await
        .context("creating the bench merchant")?;
    Ok(merchant)
}

fn release_request(run: i64, merchant: String, i: usize) -> pb::ReleaseOrderRequest {
    pb::ReleaseOrderRequest {
        order_id: order_id(run, i),
        merchant_id: merchant,
        shipping_detail: Some(pb::ShippingDetail {
            // A recipient per order: no combined-shipment rule applies.
            name: format!("Recipient {i}"),
            street_address1: format!("{i} Bench St"),
            city: "Springfield".into(),
            zipcode: "62701".into(),
            country: "US".into(),
            ..Default::default()
        }),
        quantity: 1,
        ..Default::default()
    }
}

fn fulfill_request(run: i64, merchant: String, i: usize) -> pb::FulfillOrderRequest {
    pb::FulfillOrderRequest {
        merchant_id: merchant,
        order_id: order_id(run, i),
        tracking_number: tracking_number(run, i),
        carrier: "usps".into(),
        origin_country: "CN".into(),
        channel: pb::Channel::Api as i32,
    }
}

/// The two writes that prepare (and, in `fulfill`, measure) a run's orders.
#[derive(Clone, Copy)]
enum Step {
    Release,
    Fulfill,
}

/// A run's orders (`order_id(run, i)`) of its merchant, through the FulfillmentService.
struct BenchOrders<'a> {
    clients: &'a [FulfillmentServiceClient<Channel>],
    run: i64,
    merchant: &'a str,
}

impl BenchOrders<'_> {
    /// Orders 0..`total` through `step` ([`release_request`] / [`fulfill_request`]),
    /// `concurrency` callers at a time, until `until` if given.
    async fn drive(
        &self,
        step: Step,
        concurrency: usize,
        total: usize,
        until: Option<Instant>,
    ) -> Driven {
        let (run, merchant) = (self.run, self.merchant.to_owned());
        drive(self.clients, concurrency, total, until, move |mut c, i| {
            let merchant = merchant.clone();
            async move {
                match step {
                    Step::Release => c
                        .release_order(release_request(run, merchant, i))
                        .await
                        .map(drop),
                    Step::Fulfill => c
                        .fulfill_order(fulfill_request(run, merchant, i))
                        .await
                        .map(drop),
                }
            }
        })
        .await
    }
}

/// What [`drive`] saw: one latency per call, the failed calls and the first failure.
struct Driven {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<tonic::Status>,
}

impl Driven {
    /// ", first error: ..." when a call failed (so a broken set-up says why), else nothing.
    fn first_error_note(&self) -> String {
        self.first_error
            .as_ref()
            .map(|e| format!(", first error: {:?} {}", e.code(), e.message()))
            .unwrap_or_default()
    }
}

/// Runs `concurrency` callers until `next` passes `total` or `until` is reached.
async fn drive<C, F, Fut>(
    clients: &[C],
    concurrency: usize,
    total: usize,
    until: Option<Instant>,
    call: F,
) -> Driven
where
    C: Clone + Send + 'static,
    F: Fn(C, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = clients[worker % clients.len()].clone();
        let next = next.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            loop {
                if until.is_some_and(|u| Instant::now() >= u) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let start = Instant::now();
                if let Err(e) = call(client.clone(), i).await {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
                latencies.push(start.elapsed());
            }
            (latencies, errors, first_error)
        }));
    }
    let mut driven = Driven {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        if let Ok((l, e, first)) = task.await {
            driven.latencies.extend(l);
            driven.errors += e;
            if driven.first_error.is_none() {
                driven.first_error = first;
            }
        }
    }
    driven
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

async fn fulfill(args: FulfillArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let (clients, run, merchant) = bench_merchant(&args.addr, args.connections).await?;

    let orders = BenchOrders {
        clients: &clients,
        run,
        merchant: &merchant,
    };

    let started = Instant::now();
    let released = orders
        .drive(Step::Release, args.concurrency, args.orders, None)
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "release (warm-up): {} orders in {secs:.1} s, {:.0} req/s, {} errors{}",
        released.latencies.len(),
        released.latencies.len() as f64 / secs,
        released.errors,
        released.first_error_note(),
    );

    let started = Instant::now();
    let until = Some(started + args.duration);
    let mut shipped = orders
        .drive(Step::Fulfill, args.concurrency, args.orders, until)
        .await;
    let elapsed = started.elapsed();
    if elapsed < args.duration {
        println!(
            "note: the {} released orders ran out after {:.1} s; rates are over that time",
            args.orders,
            elapsed.as_secs_f64()
        );
    }
    shipped.latencies.sort();
    println!(
        "fulfill: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
        shipped.latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile_ms(&shipped.latencies, 0.50),
        percentile_ms(&shipped.latencies, 0.99),
        shipped.errors,
        shipped.first_error_note(),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fulfill(args) => fulfill(args).await,
        Command::Ingest(args) => ingest::run(args).await,
        Command::Export(args) => bulk::export(args).await,
        Command::Upload(args) => bulk::upload(args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Hot(args) => hot_paths::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert!((percentile_ms(&sorted, 0.50) - 50.0).abs() < 1e-9);
        assert!((percentile_ms(&sorted, 0.99) - 99.0).abs() < 1e-9);
    }
}
