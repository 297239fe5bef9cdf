//! The spreadsheet RPCs (issue 8): `export` streams a merchant's orders with ExportOrders and
//! reports rows/s; `upload` sends a CSV filling in every order of a merchant with
//! StartBulkFulfillment and follows the job to its end, reporting rows/s. The orders are seeded
//! beforehand (see `services/bench/bulk/run.sh`); nothing here sets them up.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::fulfillment_service_client::FulfillmentServiceClient;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    #[arg(long)]
    merchant: String,
}

#[derive(clap::Args)]
pub struct UploadArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    #[arg(long)]
    merchant: String,
    /// Orders `<prefix><i>` for i in 1..=rows must exist, APPROVED, for the merchant.
    #[arg(long, default_value = "up-")]
    order_prefix: String,
    #[arg(long, default_value_t = 50_000)]
    rows: usize,
}

async fn client(addr: &str) -> anyhow::Result<FulfillmentServiceClient<tonic::transport::Channel>> {
    Ok(FulfillmentServiceClient::connect(addr.to_owned())
        .await
        .with_context(|| format!("connecting to {addr}"))?
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let mut client = client(&args.addr).await?;
    let started = Instant::now();
    let mut stream = client
        .export_orders(pb::ExportOrdersRequest {
            merchant_id: args.merchant.clone(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let (mut bytes, mut line_ends, mut chunks) = (0usize, 0usize, 0usize);
    let mut first_chunk = None;
    while let Some(message) = stream.message().await? {
        first_chunk.get_or_insert_with(|| started.elapsed());
        bytes += message.chunk.len();
        // Seeded orders have no line breaks inside fields: one CRLF per record.
        line_ends += message.chunk.iter().filter(|b| **b == b'\n').count();
        chunks += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let rows = line_ends.saturating_sub(1);
    println!(
        "export: {rows} rows, {:.1} MiB in {chunks} chunks, {secs:.1} s, {:.0} rows/s, first chunk after {:.0} ms",
        bytes as f64 / (1024.0 * 1024.0),
        rows as f64 / secs,
        first_chunk.unwrap_or_default().as_secs_f64() * 1000.0,
    );
    Ok(())
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let mut client = client(&args.addr).await?;
    let mut csv = String::from("Order ID,Carrier,Tracking Number,Origin Country\r\n");
    let run = chrono::Utc::now().timestamp();
    for i in 1..=args.rows {
        csv.push_str(&format!(
            "{}{i},usps,BULK{run}X{i:09},CN\r\n",
            args.order_prefix
        ));
    }
    let size = csv.len();
    let started = Instant::now();
    let job = client
        .start_bulk_fulfillment(pb::StartBulkFulfillmentRequest {
            merchant_id: args.merchant.clone(),
            csv: csv.into_bytes(),
            file_name: "bench.csv".into(),
        })
        .await?
        .into_inner()
        .job
        .context("no job in the answer")?;
    let stored = started.elapsed();
    println!(
        "upload: {} rows ({:.1} MiB) stored as {} in {:.2} s",
        job.total_rows,
        size as f64 / (1024.0 * 1024.0),
        job.id,
        stored.as_secs_f64()
    );
    let done = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let job = client
            .get_bulk_job(pb::GetBulkJobRequest {
                merchant_id: args.merchant.clone(),
                job_id: job.id.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await?
            .into_inner()
            .job
            .context("no job in the answer")?;
        if job.state == pb::BulkJobState::Completed as i32 {
            break job;
        }
        if job.state == pb::BulkJobState::Failed as i32 {
            bail!("job failed: {}", job.error);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bulk: {} rows applied ({} accepted, {} rejected) in {secs:.1} s: {:.0} rows/s",
        done.processed_rows,
        done.accepted_rows,
        done.rejected_rows,
        done.processed_rows as f64 / secs,
    );
    Ok(())
}
