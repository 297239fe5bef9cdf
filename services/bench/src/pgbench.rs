//! `pgbench` beside the service: one measurement's rate and latency percentiles, read from
//! pgbench's own output and per-transaction log, in the same units as the RPCs' figures.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{Driven, percentile_ms};

/// Throughput and latency of one measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure {
    pub(crate) rate: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) errors: usize,
}

impl Figure {
    pub(crate) fn of(driven: &mut Driven, elapsed: Duration) -> Self {
        driven.latencies.sort();
        Self {
            rate: driven.latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile_ms(&driven.latencies, 0.50),
            p99: percentile_ms(&driven.latencies, 0.99),
            errors: driven.errors,
        }
    }

    pub(crate) fn show(&self, unit: &str) -> String {
        format!(
            "{:.0} {unit}, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.rate, self.p50, self.p99, self.errors
        )
    }
}

/// Runs pgbench for `duration` with `clients` clients and per-transaction logging, and reads
/// its rate and latency percentiles back.
pub(crate) fn pgbench(
    db: &str,
    script: PgbenchScript<'_>,
    clients: usize,
    duration: Duration,
    defines: &[(&str, String)],
) -> anyhow::Result<Figure> {
    let dir = std::env::temp_dir().join(format!(
        "fulfillment-bench-pgbench-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut command = Command::new("pgbench");
    command
        .arg("-n")
        .arg("-c")
        .arg(clients.to_string())
        .arg("-j")
        .arg(clients.min(2).to_string())
        .arg("-T")
        .arg(duration.as_secs().max(1).to_string())
        .arg("--log")
        .arg(format!("--log-prefix={}", dir.join("log").display()));
    match script {
        PgbenchScript::Builtin(flag) => {
            command.arg(flag);
        }
        // Prepared, as the service's statements are (and `:merchant` is then a parameter).
        PgbenchScript::File(path) => {
            command.arg("-M").arg("prepared").arg("-f").arg(path);
        }
        // As the service's ship path runs (`fulfillment_core::prepared::BEGIN_ON_GENERIC_PLANS`),
        // for the whole session here: the script's transactions run nothing else.
        PgbenchScript::FileOnGenericPlans(path) => {
            command
                .env("PGOPTIONS", "-c plan_cache_mode=force_generic_plan")
                .arg("-M")
                .arg("prepared")
                .arg("-f")
                .arg(path);
        }
    }
    for (name, value) in defines {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let output = command.arg(db).output().context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let rate = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    let failed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        // client_id transaction_no time_us script_no epoch epoch_us
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
                .map(Duration::from_micros),
        );
    }
    std::fs::remove_dir_all(&dir)?;
    latencies.sort();
    Ok(Figure {
        rate,
        p50: percentile_ms(&latencies, 0.50),
        p99: percentile_ms(&latencies, 0.99),
        errors: failed,
    })
}

#[derive(Clone, Copy)]
pub(crate) enum PgbenchScript<'a> {
    Builtin(&'a str),
    File(&'a Path),
    /// A script file, prepared, every statement on its generic plan.
    FileOnGenericPlans(&'a Path),
}
