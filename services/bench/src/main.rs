//! `fulfillment-bench`: drives the gRPC API and prints throughput and latency. Releases the
//! orders it needs first (not measured), then measures `FulfillOrder` alone.

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

async fn clients(addr: &str, n: usize) -> anyhow::Result<Vec<FulfillmentServiceClient<Channel>>> {
    let mut out = Vec::new();
    for _ in 0..n.max(1) {
        let channel = Channel::from_shared(addr.to_owned())?
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        out.push(FulfillmentServiceClient::new(channel));
    }
    Ok(out)
}

fn order_id(run: i64, i: usize) -> String {
    format!("bench-{run}-{i}")
}

/// Runs `concurrency` callers until `next` passes `total` or `until` is reached; returns
/// per-call latencies and the error count.
async fn drive<F, Fut>(
    clients: &[FulfillmentServiceClient<Channel>],
    concurrency: usize,
    total: usize,
    until: Option<Instant>,
    call: F,
) -> (Vec<Duration>, usize)
where
    F: Fn(FulfillmentServiceClient<Channel>, usize) -> Fut + Clone + Send + 'static,
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
            loop {
                if until.is_some_and(|u| Instant::now() >= u) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let start = Instant::now();
                if call(client.clone(), i).await.is_err() {
                    errors += 1;
                }
                latencies.push(start.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            latencies.extend(l);
            errors += e;
        }
    }
    (latencies, errors)
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
    let clients = clients(&args.addr, args.connections).await?;
    let run = chrono::Utc::now().timestamp();
    let merchant = format!("bench-{run}");
    clients[0]
        .clone()
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

    let started = Instant::now();
    let m = merchant.clone();
    let (released, release_errors) = drive(
        &clients,
        args.concurrency,
        args.orders,
        None,
        move |mut c, i| {
            let m = m.clone();
            async move {
                c.release_order(pb::ReleaseOrderRequest {
                    order_id: order_id(run, i),
                    merchant_id: m,
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
                })
                .await
                .map(drop)
            }
        },
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "release (warm-up): {} orders in {secs:.1} s, {:.0} req/s, {release_errors} errors",
        released.len(),
        released.len() as f64 / secs
    );

    let started = Instant::now();
    let m = merchant.clone();
    let (mut latencies, errors) = drive(
        &clients,
        args.concurrency,
        args.orders,
        Some(started + args.duration),
        move |mut c, i| {
            let m = m.clone();
            async move {
                c.fulfill_order(pb::FulfillOrderRequest {
                    merchant_id: m,
                    order_id: order_id(run, i),
                    tracking_number: format!("BENCH{run}X{i:010}"),
                    carrier: "usps".into(),
                    origin_country: "CN".into(),
                    channel: pb::Channel::Api as i32,
                })
                .await
                .map(drop)
            }
        },
    )
    .await;
    let elapsed = started.elapsed();
    if elapsed < args.duration {
        println!(
            "note: the {} released orders ran out after {:.1} s; rates are over that time",
            args.orders,
            elapsed.as_secs_f64()
        );
    }
    latencies.sort();
    println!(
        "fulfill: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fulfill(args) => fulfill(args).await,
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
