//! Noticing that configuration files changed, by polling their metadata: it works the same for
//! plain files and for Kubernetes Secret mounts (which swap a symlink), with no extra crate.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Modification time and size of each file, `None` for a file that cannot be read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<Option<(SystemTime, u64)>>);

impl Fingerprint {
    pub fn of(paths: &[PathBuf]) -> Self {
        Self(
            paths
                .iter()
                .map(|p| {
                    let meta = std::fs::metadata(p).ok()?;
                    Some((meta.modified().ok()?, meta.len()))
                })
                .collect(),
        )
    }
}

/// Calls `reload` whenever `path` changes, checking every `every`, until the process ends. A
/// failed reload is logged and the previous configuration stays in use.
pub fn watch_file<F>(path: &Path, every: Duration, what: &'static str, mut reload: F)
where
    F: FnMut() -> Result<(), String> + Send + 'static,
{
    let paths = vec![path.to_path_buf()];
    let mut last = Fingerprint::of(&paths);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Fingerprint::of(&paths);
            if now == last {
                continue;
            }
            last = now;
            match reload() {
                Ok(()) => tracing::info!(what, "configuration reloaded"),
                Err(e) => {
                    tracing::error!(what, error = %e, "reload failed; keeping the previous one")
                }
            }
        }
    });
}
