//! Run-once or scheduled execution of one worker job.

use std::future::Future;
use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler};

/// Flags every worker binary accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunnerArgs {
    /// Run as a daemon on this cron schedule (seconds field first, e.g. "0 */5 * * * *").
    /// Without it the job runs once and the process exits.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Report what would be done without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid --schedule {schedule:?}: {reason}")]
    InvalidSchedule { schedule: String, reason: String },
    #[error("scheduler failed: {0}")]
    Scheduler(String),
}

/// Runs `job` once, or on `args.schedule` until Ctrl-C/SIGTERM. A failing scheduled run is
/// logged and the next one still happens: one bad run must not stop the daemon.
pub async fn run<F, Fut>(name: &'static str, args: &RunnerArgs, job: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let Some(schedule) = &args.schedule else {
        return job().await;
    };
    let job = Arc::new(job);
    let scheduler = JobScheduler::new()
        .await
        .map_err(|e| RunnerError::Scheduler(e.to_string()))?;
    let cron = Job::new_async(schedule.as_str(), move |_id, _scheduler| {
        let job = job.clone();
        Box::pin(async move {
            if let Err(e) = job().await {
                tracing::error!(worker = name, error = %e, "scheduled run failed");
            }
        })
    })
    .map_err(|e| RunnerError::InvalidSchedule {
        schedule: schedule.clone(),
        reason: e.to_string(),
    })?;
    scheduler
        .add(cron)
        .await
        .map_err(|e| RunnerError::Scheduler(e.to_string()))?;
    scheduler
        .start()
        .await
        .map_err(|e| RunnerError::Scheduler(e.to_string()))?;
    tracing::info!(worker = name, %schedule, "running on schedule");
    tokio::signal::ctrl_c().await?;
    let mut scheduler = scheduler;
    scheduler
        .shutdown()
        .await
        .map_err(|e| RunnerError::Scheduler(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn without_schedule_the_job_runs_exactly_once() {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let args = RunnerArgs {
            schedule: None,
            dry_run: false,
        };
        run("test", &args, move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_invalid_schedule_is_refused_with_the_expression() {
        let args = RunnerArgs {
            schedule: Some("every tuesday".into()),
            dry_run: false,
        };
        let err = run("test", &args, || async { Ok(()) }).await.unwrap_err();
        assert!(err.to_string().contains("every tuesday"), "{err}");
    }
}
