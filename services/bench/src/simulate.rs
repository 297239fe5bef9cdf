//! `simulate` (issue 24): times `PolicyService/SimulatePolicy` over a seeded history (see
//! `services/bench/simulate/run.sh`). Two runs: the version in force, which must reproduce every
//! recorded decision (the honesty check: the command fails otherwise), then the same values with
//! another re-release window, whose transitions are printed.

use std::time::Instant;

use anyhow::{Context, bail};
use fulfillment_proto::v1 as pb;
use fulfillment_proto::v1::policy_service_client::PolicyServiceClient;
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct SimulateArgs {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Start of the window of decision times (RFC 3339).
    #[arg(long, default_value = "2020-01-01T00:00:00Z")]
    from: String,
    /// End of the window (RFC 3339); defaults to now.
    #[arg(long)]
    to: Option<String>,
    /// The candidate's re-release window (R16); the other values stay those in force.
    #[arg(long, default_value_t = 30)]
    rerelease_window_days: i32,
}

fn timestamp(text: &str) -> anyhow::Result<prost_types::Timestamp> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("not an RFC 3339 time: {text:?}"))?;
    Ok(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

/// Runs one simulation to its end; returns the result and the seconds it took.
async fn run_one(
    client: &mut PolicyServiceClient<Channel>,
    request: pb::SimulatePolicyRequest,
    label: &str,
) -> anyhow::Result<(pb::SimulationResult, f64)> {
    let started = Instant::now();
    let mut stream = client.simulate_policy(request).await?.into_inner();
    let (mut progress, mut result) = (0usize, None);
    while let Some(message) = stream.message().await? {
        match message.item {
            Some(pb::simulate_policy_response::Item::Progress(p)) => {
                progress += 1;
                if progress % 50 == 0 {
                    eprintln!(
                        "{label}: {} decisions read, {} ms",
                        p.decisions_read, p.elapsed_ms
                    );
                }
            }
            Some(pb::simulate_policy_response::Item::Result(r)) => result = Some(r),
            None => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let result = result.context("the stream ended without a result")?;
    println!(
        "{label}: {} decisions in {secs:.1} s ({:.0}/s, {progress} progress messages, server {} ms): reproduced {}, not reproduced {}, unjudged {}",
        result.decisions,
        result.decisions as f64 / secs,
        result.elapsed_ms,
        result.reproduced,
        result.not_reproduced,
        result.unjudged.iter().map(|u| u.count).sum::<i64>(),
    );
    for o in &result.outcomes {
        println!(
            "  {:<8} {:<16} baseline {:>9} candidate {:>9}",
            o.rule, o.outcome, o.baseline, o.candidate
        );
    }
    for t in &result.transitions {
        println!(
            "  transition {} {} -> {}: {}",
            t.rule, t.from, t.to, t.count
        );
    }
    for m in result.top_merchants.iter().take(3) {
        println!(
            "  merchant {}: {} changed ({} refund -> re-release)",
            m.merchant_id, m.changed, m.refund_to_rerelease
        );
    }
    for u in &result.unjudged {
        println!("  not judged {} {}: {}", u.rule, u.reason, u.count);
    }
    Ok((result, secs))
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let mut client = PolicyServiceClient::connect(args.addr.clone())
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    let from = Some(timestamp(&args.from)?);
    let to = args.to.as_deref().map(timestamp).transpose()?;
    let current = client
        .get_policy(pb::GetPolicyRequest::default())
        .await?
        .into_inner()
        .policy
        .context("no policy in force")?;

    // The honesty check: the version in force reproduces history exactly.
    let (same, _) = run_one(
        &mut client,
        pb::SimulatePolicyRequest {
            candidate_version: current.version,
            from,
            to,
            ..Default::default()
        },
        &format!("simulate version {} (in force)", current.version),
    )
    .await?;
    if same.not_reproduced != 0 || !same.transitions.is_empty() {
        bail!(
            "the version in force did not reproduce history: {} decisions not reproduced, {} transitions",
            same.not_reproduced,
            same.transitions.len()
        );
    }
    println!(
        "check: the version in force reproduces all {} judged decisions",
        same.reproduced
    );

    let candidate = pb::PolicyValues {
        fulfillment_window_days: current.fulfillment_window_days,
        combine_window_days: current.combine_window_days,
        rerelease_window_days: args.rerelease_window_days,
        rerelease_deadline_days: current.rerelease_deadline_days,
        confirmed_removal_from: current.confirmed_removal_from,
        rerelease_from: current.rerelease_from,
        rerelease_countries: current.rerelease_countries.clone(),
    };
    let (_, secs) = run_one(
        &mut client,
        pb::SimulatePolicyRequest {
            candidate: Some(candidate),
            from,
            to,
            ..Default::default()
        },
        &format!(
            "simulate re-release window {} -> {} days",
            current.rerelease_window_days, args.rerelease_window_days
        ),
    )
    .await?;
    println!("simulate: {secs:.1} s");
    Ok(())
}
