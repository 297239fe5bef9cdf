//! Logs for every binary, set up once: stderr (stdout carries only what a binary prints for its
//! caller), `RUST_LOG` as the filter (default `info`), `LOG_FORMAT=json` for JSON lines.

use std::io::IsTerminal;

/// Installs the global subscriber for `service` and returns the traces' guard, to be held for
/// the life of `main` (see [`crate::telemetry`]). Colour only when stderr is a terminal and
/// `NO_COLOR` is unset, so a log redirected to a file or collected by Kubernetes holds no escape
/// codes (issue 22.5). Must run inside the tokio runtime.
pub fn init(service: &'static str) -> crate::telemetry::Telemetry {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, Registry};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let telemetry = crate::telemetry::provider(service);
    let plain = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(plain.json())
    } else {
        Box::new(plain)
    };
    // `RUST_LOG` filters the logs only: traces keep every info span (each RPC, each worker
    // run) even when the logs are cut down to warnings.
    let installed = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(crate::telemetry::layer(&telemetry).with_filter(LevelFilter::INFO))
        .try_init();
    if installed.is_ok() {
        telemetry.log_start();
    }
    telemetry
}

/// Caller input in a log line, cut to [`Truncated::MAX_CHARS`] characters: a caller must not
/// be able to fill the logs (or hide a line among megabytes) with one long string.
pub struct Truncated<'a>(pub &'a str);

impl Truncated<'_> {
    pub const MAX_CHARS: usize = 200;
}

impl std::fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(Self::MAX_CHARS) {
            None => f.write_str(self.0),
            Some((cut, _)) => {
                let rest = self.0[cut..].chars().count();
                write!(f, "{}…({rest} more characters)", &self.0[..cut])
            }
        }
    }
}

/// <https://no-color.org>: any non-empty `NO_COLOR` turns colour off even on a terminal.
fn use_colour(stderr_is_terminal: bool, no_color: bool) -> bool {
    stderr_is_terminal && !no_color
}

/// The start-up line for a migration run: what happened, not a count next to "up to date".
pub fn migrations_summary(applied: usize) -> String {
    match applied {
        0 => "schema up to date".to_owned(),
        1 => "applied 1 migration".to_owned(),
        n => format!("applied {n} migrations"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_input_is_cut_in_logs_and_short_input_kept_whole() {
        assert_eq!(Truncated("m-1").to_string(), "m-1");
        let long = "é".repeat(10_000);
        let logged = Truncated(&long).to_string();
        assert!(logged.starts_with(&"é".repeat(Truncated::MAX_CHARS)));
        assert!(logged.ends_with("…(9800 more characters)"), "{logged}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, false));
        assert!(!use_colour(false, false));
        assert!(!use_colour(true, true));
        assert!(!use_colour(false, true));
    }

    #[test]
    fn migration_lines_say_what_happened() {
        assert_eq!(migrations_summary(0), "schema up to date");
        assert_eq!(migrations_summary(1), "applied 1 migration");
        assert_eq!(migrations_summary(11), "applied 11 migrations");
    }
}
