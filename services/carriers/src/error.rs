//! What can go wrong when asking a carrier about a tracking number.
//!
//! Messages are shown in logs and API answers, so they never carry credentials: clients build
//! them from status codes and short body excerpts, and pass them through [`TrackError::redact`]
//! with their own secrets before returning them (a carrier may echo a key back in an error page).

use std::time::Duration;

/// How long a body excerpt in an error message may be, in characters.
const EXCERPT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    /// The carrier does not know this tracking number (yet).
    #[error("the carrier does not know this tracking number")]
    NotFound,
    /// The carrier rejected our credentials (401/403 or its own equivalent).
    #[error("the carrier rejected our credentials")]
    Unauthorized,
    /// The carrier asks us to slow down; `retry_after` is its `Retry-After`, when it sent one.
    #[error("rate limited by the carrier{}", match retry_after {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    })]
    RateLimited { retry_after: Option<Duration> },
    /// The carrier answered with an error of its own (5xx, or an error body): worth retrying later.
    #[error("carrier error (HTTP {status}): {message}")]
    Carrier { status: u16, message: String },
    /// The carrier did not answer within the configured timeout.
    #[error("the carrier did not answer in time")]
    Timeout,
    /// The request never got an answer: DNS, TLS, connection refused or reset...
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer is not what the carrier documents (bad JSON/XML, missing fields, too large).
    #[error("malformed carrier answer: {0}")]
    Malformed(String),
}

impl TrackError {
    /// How long the carrier asked us to wait, for [`TrackError::RateLimited`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying again later may succeed (as opposed to a configuration problem or an
    /// answer that will stay malformed).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Carrier { .. } | Self::Timeout | Self::Transport(_)
        )
    }

    /// Replaces every occurrence of the given secrets in the message with `[redacted]`.
    /// Empty secrets are ignored.
    #[must_use]
    pub fn redact(self, secrets: &[&str]) -> Self {
        let clean = |text: String| -> String {
            secrets
                .iter()
                .filter(|s| !s.is_empty())
                .fold(text, |acc, secret| acc.replace(secret, "[redacted]"))
        };
        match self {
            Self::Carrier { status, message } => Self::Carrier {
                status,
                message: clean(message),
            },
            Self::Transport(m) => Self::Transport(clean(m)),
            Self::Malformed(m) => Self::Malformed(clean(m)),
            other => other,
        }
    }
}

/// The first characters of a body, on one line, for an error message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_only_for_rate_limits() {
        let limited = TrackError::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            limited.to_string(),
            "rate limited by the carrier (retry after 7s)"
        );
        assert_eq!(TrackError::Timeout.retry_after(), None);
        assert_eq!(
            TrackError::RateLimited { retry_after: None }.to_string(),
            "rate limited by the carrier"
        );
    }

    #[test]
    fn redact_removes_secrets_from_messages() {
        let err = TrackError::Carrier {
            status: 500,
            message: "bad key sk-123 for sk-123".into(),
        }
        .redact(&["sk-123", ""]);
        assert_eq!(
            err.to_string(),
            "carrier error (HTTP 500): bad key [redacted] for [redacted]"
        );
        assert_eq!(
            TrackError::Malformed("pw hunter2".into())
                .redact(&["hunter2"])
                .to_string(),
            "malformed carrier answer: pw [redacted]"
        );
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        assert_eq!(excerpt(b"line1\nline2"), "line1 line2");
        let long = vec![b'a'; 500];
        let short = excerpt(&long);
        assert_eq!(short.chars().count(), EXCERPT_CHARS + 1);
        assert!(short.ends_with('…'));
    }

    #[test]
    fn transient_errors() {
        assert!(TrackError::Timeout.is_transient());
        assert!(!TrackError::NotFound.is_transient());
        assert!(!TrackError::Unauthorized.is_transient());
        assert!(!TrackError::Malformed(String::new()).is_transient());
    }
}
