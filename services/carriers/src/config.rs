//! Per-carrier configuration: base URL, credentials, timeout and request budget, read from
//! `FULFILLMENT_CARRIER_<CODE>_*` environment variables.

use std::fmt;
use std::time::Duration;

/// Default request timeout when `_TIMEOUT_MS` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default request budget when `_RPS` is not set.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 10;

/// How to reach one carrier. Which credentials matter depends on the carrier: an API key
/// (AfterShip, InPost, WishPost, Intelipost) or a username and password (Poczta Polska).
#[derive(Clone, PartialEq, Eq)]
pub struct CarrierConfig {
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    /// The carrier's request budget; the poller paces its calls with it (the clients do not).
    pub requests_per_second: u32,
}

impl CarrierConfig {
    /// A configuration with defaults and no credentials.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: trim_base(base_url.into()),
            api_key: None,
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
        }
    }

    /// Reads `FULFILLMENT_CARRIER_<CODE>_*` from the process environment; `None` when
    /// `_URL` is not set (the carrier is not configured).
    pub fn from_env(code: &str) -> Option<Self> {
        Self::from_lookup(code, |name| std::env::var(name).ok())
    }

    /// [`CarrierConfig::from_env`] over any variable lookup (tests pass a map).
    ///
    /// `code` is uppercased and `-` becomes `_` (`poczta-polska` → `POCZTA_POLSKA`). Empty
    /// values count as unset. An unparsable `_TIMEOUT_MS` or `_RPS` falls back to its default
    /// with a warning rather than disabling the carrier.
    pub fn from_lookup(code: &str, lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let prefix = env_prefix(code);
        let get = |suffix: &str| {
            lookup(&format!("{prefix}_{suffix}"))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let base_url = get("URL")?;
        let timeout = match get("TIMEOUT_MS").map(|v| v.parse::<u64>()) {
            None => DEFAULT_TIMEOUT,
            Some(Ok(ms)) if ms > 0 => Duration::from_millis(ms),
            Some(_) => {
                tracing::warn!(
                    carrier = code,
                    "invalid {prefix}_TIMEOUT_MS, using the default"
                );
                DEFAULT_TIMEOUT
            }
        };
        let requests_per_second = match get("RPS").map(|v| v.parse::<u32>()) {
            None => DEFAULT_REQUESTS_PER_SECOND,
            Some(Ok(rps)) if rps > 0 => rps,
            Some(_) => {
                tracing::warn!(carrier = code, "invalid {prefix}_RPS, using the default");
                DEFAULT_REQUESTS_PER_SECOND
            }
        };
        Some(Self {
            base_url: trim_base(base_url),
            api_key: get("API_KEY"),
            username: get("USERNAME"),
            password: get("PASSWORD"),
            timeout,
            requests_per_second,
        })
    }

    /// The secrets of this configuration, for [`crate::TrackError::redact`].
    pub(crate) fn secrets(&self) -> Vec<&str> {
        [&self.api_key, &self.password]
            .into_iter()
            .filter_map(|s| s.as_deref())
            .collect()
    }
}

/// `FULFILLMENT_CARRIER_<CODE>` for a carrier code.
pub fn env_prefix(code: &str) -> String {
    format!(
        "FULFILLMENT_CARRIER_{}",
        code.trim().to_ascii_uppercase().replace('-', "_")
    )
}

fn trim_base(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Secrets never reach logs: Debug shows only whether they are set.
impl fmt::Debug for CarrierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| if s.is_some() { "<redacted>" } else { "<unset>" };
        f.debug_struct("CarrierConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("timeout", &self.timeout)
            .field("requests_per_second", &self.requests_per_second)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    /// An environment of these variables only (the registry's tests use it too).
    pub(crate) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn url_is_required() {
        assert_eq!(CarrierConfig::from_lookup("inpost", lookup(&[])), None);
        let blank = lookup(&[("FULFILLMENT_CARRIER_INPOST_URL", "  ")]);
        assert_eq!(CarrierConfig::from_lookup("inpost", blank), None);
    }

    #[test]
    fn reads_every_variable_with_the_code_normalised() {
        let vars = lookup(&[
            (
                "FULFILLMENT_CARRIER_POCZTA_POLSKA_URL",
                "https://tt.example/Sledzenie/",
            ),
            ("FULFILLMENT_CARRIER_POCZTA_POLSKA_API_KEY", "k"),
            ("FULFILLMENT_CARRIER_POCZTA_POLSKA_USERNAME", "user"),
            ("FULFILLMENT_CARRIER_POCZTA_POLSKA_PASSWORD", "pw"),
            ("FULFILLMENT_CARRIER_POCZTA_POLSKA_TIMEOUT_MS", "2500"),
            ("FULFILLMENT_CARRIER_POCZTA_POLSKA_RPS", "3"),
        ]);
        let config = CarrierConfig::from_lookup("poczta-polska", vars).unwrap();
        assert_eq!(config.base_url, "https://tt.example/Sledzenie");
        assert_eq!(config.api_key.as_deref(), Some("k"));
        assert_eq!(config.username.as_deref(), Some("user"));
        assert_eq!(config.password.as_deref(), Some("pw"));
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.requests_per_second, 3);
    }

    #[test]
    fn defaults_and_invalid_numbers() {
        let vars = lookup(&[
            ("FULFILLMENT_CARRIER_WISHPOST_URL", "https://wp.example"),
            ("FULFILLMENT_CARRIER_WISHPOST_TIMEOUT_MS", "soon"),
            ("FULFILLMENT_CARRIER_WISHPOST_RPS", "0"),
        ]);
        let config = CarrierConfig::from_lookup("WishPost", vars).unwrap();
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.requests_per_second, DEFAULT_REQUESTS_PER_SECOND);
        assert_eq!(config.api_key, None);
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut config = CarrierConfig::new("https://x.example");
        config.api_key = Some("super-secret-key".into());
        config.password = Some("hunter2".into());
        config.username = Some("alice".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("super-secret-key"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("alice"),
            "{shown}"
        );
        assert_eq!(config.secrets(), vec!["super-secret-key", "hunter2"]);
    }
}
