//! Waiting on a condition with a deadline, instead of sleeping a guessed time: a test waits
//! exactly as long as the thing it waits for takes, and fails saying what never happened.

use std::time::{Duration, Instant};

/// How often a condition is looked at again: short, since looking is cheap.
const POLL: Duration = Duration::from_millis(50);

/// Polls `cond` until it yields a value; panics naming `what` once `within` has passed.
pub fn wait_until<T>(what: &str, within: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    wait_until_seen(what, within, || cond().ok_or("not yet"))
}

/// As [`wait_until`], for a condition that says what it saw while not met (`Err`), so the
/// failure shows the last state rather than only that the deadline passed.
pub fn wait_until_seen<T, E: std::fmt::Display>(
    what: &str,
    within: Duration,
    mut cond: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match cond() {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; last seen: {seen}"
            ),
        }
        std::thread::sleep(POLL);
    }
}

/// [`wait_until`] for async conditions, sleeping on tokio's timer between looks.
pub async fn wait_until_async<T, F, Fut>(what: &str, within: Duration, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = cond().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(POLL).await;
    }
}
