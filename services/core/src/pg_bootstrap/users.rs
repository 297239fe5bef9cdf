//! Who uses a private cluster, so that it stops however its users end.
//!
//! Every process that uses the cluster registers its pid under `<root>/users/`. A destructor
//! alone cannot stop the cluster: a test binary keeps its target in a `static` (never dropped), a
//! panic can skip destructors, and `kill -9` skips everything. So the first user also starts a
//! small watcher (`sh`, in its own process group, with no inherited pipes) that wakes every
//! second, forgets users that are no longer alive, and stops the cluster once none is left. A
//! process that finds the cluster running without a live watcher (one killed together with its
//! user) starts a new one: it takes the cluster over.
//!
//! Starting, joining, leaving and stopping all happen under an exclusive `flock` on `<root>/lock`,
//! shared by Rust (`File::lock`) and the watcher (`flock(1)`), so a process joining while the
//! watcher stops the cluster waits and then starts it again instead of finding it half gone.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Marks the watcher in `ps` and in `/proc/<pid>/cmdline`, so a recycled pid is not taken for it.
const WATCHER_NAME: &str = "fulfillment-pg-watcher";

/// `$1` is the root; the rest is the command that stops the cluster.
const WATCHER_SCRIPT: &str = r#"
root=$1; shift
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]; }
while sleep 1; do
  exec 9>>"$root/lock"
  flock 9
  left=
  for f in "$root"/users/*; do
    [ -e "$f" ] || continue
    if alive "${f##*/}"; then left=1; else rm -f "$f"; fi
  done
  if [ -z "$left" ]; then
    "$@" >/dev/null 2>&1
    rm -f "$root/watcher.pid"
    exit 0
  fi
  exec 9>&-
done
"#;

/// Held while starting, joining, leaving or stopping; released on drop.
pub(super) struct RootLock(File);

impl RootLock {
    pub(super) fn acquire(root: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("lock"))?;
        file.lock()?;
        Ok(Self(file))
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn users_dir(root: &Path) -> PathBuf {
    root.join("users")
}

/// Records this process as a user of the cluster under `root`.
pub(super) fn join(_lock: &RootLock, root: &Path) -> io::Result<()> {
    let dir = users_dir(root);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(std::process::id().to_string()), b"")
}

/// Forgets this process; answers whether any other live process still uses the cluster.
pub(super) fn leave(_lock: &RootLock, root: &Path) -> bool {
    let dir = users_dir(root);
    let _ = std::fs::remove_file(dir.join(std::process::id().to_string()));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return false;
    };
    let mut others = false;
    for entry in entries.flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(is_alive);
        if alive {
            others = true;
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    others
}

/// Starts the watcher unless a live one already watches this root.
pub(super) fn ensure_watcher(_lock: &RootLock, root: &Path, stop: &[OsString]) -> io::Result<()> {
    let pid_file = root.join("watcher.pid");
    let current = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if current.is_some_and(is_watcher) {
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    let child = Command::new("sh")
        .arg("-c")
        .arg(WATCHER_SCRIPT)
        .arg(WATCHER_NAME)
        .arg(root)
        .args(stop)
        // Its own process group: Ctrl-C on a test run must not take the watcher with it. No
        // inherited pipes: whoever reads our output must not wait for the watcher to exit.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    tracing::debug!(pid = child.id(), "private PostgreSQL watcher started");
    std::fs::write(&pid_file, child.id().to_string())
}

/// Alive and not a zombie (a killed child its parent has not reaped yet is gone for our purpose).
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn is_watcher(pid: u32) -> bool {
    is_alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
            cmd.split(|b| *b == 0)
                .any(|arg| arg == WATCHER_NAME.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_made_up_pid_is_not() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX));
        assert!(!is_watcher(std::process::id()));
    }
}
