//! What can go wrong when dispatching, and how it is told without a credential.

use std::time::Duration;

/// One field the carrier (or our pre-check) rejected, named in our request's terms
/// (`receiver.phone`, `parcel.size`, `cod.bank_account`, `target_point`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What can go wrong when dispatching. Messages are shown to merchants and logged: none carries
/// a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The carrier rejected the account's credentials (R19: Paczka w Ruchu credentials are only
    /// checked here). Retrying will not help.
    #[error(
        "the carrier rejected the account's credentials: the merchant must fix them in the carrier account settings"
    )]
    CredentialsRejected,
    /// The shipment data is not acceptable, field by field.
    #[error("the shipment data was rejected: {}", describe_fields(.0))]
    Validation(Vec<FieldError>),
    /// Refused before any call: the carrier does not offer this (an unregistered letter...).
    #[error("refused: {0}")]
    Refused(String),
    /// The carrier no longer keeps this label (R20: labels last as long as the carrier keeps them).
    #[error("the carrier no longer keeps this label")]
    LabelGone,
    /// The carrier does not know this shipment.
    #[error("the carrier does not know this shipment")]
    NotFound,
    /// The carrier created the shipment but had not assigned its tracking number when we stopped
    /// asking: keep the id and ask again, do not create it again.
    #[error(
        "the carrier created shipment {carrier_shipment_id} but has not assigned its tracking number yet"
    )]
    Pending { carrier_shipment_id: String },
    /// The carrier did not answer within the configured timeout.
    #[error("the carrier did not answer in time")]
    Timeout,
    /// The carrier could not be reached or answered with a server error: worth retrying later.
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
    /// An HTTP status the carrier does not document for this call.
    #[error("unexpected HTTP {status} from the carrier: {message}")]
    Http { status: u16, message: String },
    /// The carrier refused the request for a reason of its own (a shipment that can no longer
    /// be cancelled, a label not bought yet...).
    #[error("the carrier refused the request ({code}): {message}")]
    Carrier { code: String, message: String },
    /// The answer is not what the carrier documents.
    #[error("malformed carrier answer: {0}")]
    Malformed(String),
    /// The carrier asks us to slow down; `retry_after` is its `Retry-After`, when it sent one.
    #[error("rate limited by the carrier{}", match retry_after {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    })]
    RateLimited { retry_after: Option<Duration> },
    /// The carrier (or this client) does not offer the operation.
    #[error("the carrier does not support {operation}")]
    Unsupported { operation: &'static str },
}

impl DispatchError {
    /// A validation error on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        DispatchError::Validation(vec![FieldError::new(field, message)])
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            DispatchError::Timeout
            | DispatchError::Unavailable(_)
            | DispatchError::RateLimited { .. }
            | DispatchError::Pending { .. } => true,
            DispatchError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the merchant must fix the carrier account (R19).
    pub fn needs_new_credentials(&self) -> bool {
        matches!(self, DispatchError::CredentialsRejected)
    }

    /// Replaces every occurrence of the given secrets in the messages with `[redacted]`.
    /// Empty secrets are ignored.
    #[must_use]
    pub fn redact(self, secrets: &[&str]) -> Self {
        let clean = |text: String| -> String {
            secrets
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .fold(text, |acc, secret| acc.replace(secret, "[redacted]"))
        };
        match self {
            DispatchError::Validation(errors) => DispatchError::Validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: clean(e.field),
                        message: clean(e.message),
                    })
                    .collect(),
            ),
            DispatchError::Refused(m) => DispatchError::Refused(clean(m)),
            DispatchError::Unavailable(m) => DispatchError::Unavailable(clean(m)),
            DispatchError::Http { status, message } => DispatchError::Http {
                status,
                message: clean(message),
            },
            DispatchError::Carrier { code, message } => DispatchError::Carrier {
                code: clean(code),
                message: clean(message),
            },
            DispatchError::Malformed(m) => DispatchError::Malformed(clean(m)),
            DispatchError::Pending {
                carrier_shipment_id,
            } => DispatchError::Pending {
                carrier_shipment_id: clean(carrier_shipment_id),
            },
            other => other,
        }
    }
}
