//! The error every service operation returns. It knows its meaning to a caller (invalid input,
//! not found, a rule that forbids the action now, ...) but nothing of gRPC: the server maps it to
//! `tonic::Status` in one place.

use std::fmt;

/// One invalid field of a request, as reported to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller sent something malformed. `reason` is a stable code callers can branch on.
    #[error("{}", describe_violations(violations))]
    InvalidArgument {
        reason: &'static str,
        violations: Vec<FieldViolation>,
    },
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    /// A rule forbids the action now; the message names the rule (e.g. "R10: ...").
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    AlreadyExists {
        reason: &'static str,
        message: String,
    },
    /// Lost a race with a concurrent change; retrying may succeed.
    #[error("{message}")]
    Aborted {
        reason: &'static str,
        message: String,
    },
    /// No valid credentials came with the call.
    #[error("{message}")]
    Unauthenticated {
        reason: &'static str,
        message: String,
    },
    /// The caller is known but may not do this (its role, or the merchant it acts for).
    #[error("{message}")]
    PermissionDenied {
        reason: &'static str,
        message: String,
    },
    /// A limit was reached (size, rate, concurrency); the message says which.
    #[error("{message}")]
    ResourceExhausted {
        reason: &'static str,
        message: String,
    },
    #[error("the database is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn invalid(
        reason: &'static str,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self::InvalidArgument {
            reason,
            violations: vec![FieldViolation::new(field, description)],
        }
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthenticated {
            reason,
            message: message.into(),
        }
    }

    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::PermissionDenied {
            reason,
            message: message.into(),
        }
    }

    pub fn exhausted(reason: &'static str, message: impl Into<String>) -> Self {
        Self::ResourceExhausted {
            reason,
            message: message.into(),
        }
    }

    pub fn internal(error: impl Into<BoxError>) -> Self {
        Self::Internal(error.into())
    }

    /// The stable machine-readable reason (google.rpc.ErrorInfo.reason).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidArgument { reason, .. }
            | Self::FailedPrecondition { reason, .. }
            | Self::AlreadyExists { reason, .. }
            | Self::Aborted { reason, .. }
            | Self::Unauthenticated { reason, .. }
            | Self::PermissionDenied { reason, .. }
            | Self::ResourceExhausted { reason, .. } => reason,
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Unavailable(_) => "DATABASE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

fn describe_violations(violations: &[FieldViolation]) -> String {
    struct Joined<'a>(&'a [FieldViolation]);
    impl fmt::Display for Joined<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, v) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", v.field, v.description)?;
            }
            Ok(())
        }
    }
    Joined(violations).to_string()
}

impl From<diesel::result::Error> for ServiceError {
    /// What a database error means to the caller, in our words: PostgreSQL's own text (table
    /// and constraint names, values) stays in our logs and never reaches a response.
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &error {
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Self::Aborted {
                reason: "CONCURRENT_UPDATE",
                message: "a concurrent change to the same orders won the race; retry the call"
                    .into(),
            },
            // 40P01: PostgreSQL broke a lock cycle by failing this transaction; retryable.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().starts_with("deadlock detected") =>
            {
                Self::Aborted {
                    reason: "DEADLOCK",
                    message:
                        "the call waited on a concurrent call that waited on it; retry the call"
                            .into(),
                }
            }
            // Our code checks existence first; a violation here is a concurrent insert of the
            // same thing, which the caller can re-read.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::warn!(
                    constraint = info.constraint_name().unwrap_or(""),
                    "unique violation"
                );
                Self::AlreadyExists {
                    reason: "ALREADY_EXISTS",
                    message: "it was created by a concurrent call; read it again".into(),
                }
            }
            // Something the call refers to was removed concurrently (or never existed).
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                tracing::warn!(
                    constraint = info.constraint_name().unwrap_or(""),
                    "foreign key violation"
                );
                Self::FailedPrecondition {
                    reason: "REFERENCED_RECORD_MISSING",
                    message: "a record this call refers to does not exist (any more)".into(),
                }
            }
            Error::NotFound => Self::NotFound {
                resource: "record",
                id: "asked for".into(),
            },
            _ if crate::db::is_connection_lost(&error) => Self::Unavailable(Box::new(error)),
            _ => Self::Internal(Box::new(error)),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ServiceError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

/// Collects every invalid field of a request, so the caller learns all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Non-empty after trimming, and at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "is required");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    /// May be empty, but at most `max` characters.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self, reason: &'static str) -> ServiceResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_error(reason))
        }
    }

    pub fn into_error(self, reason: &'static str) -> ServiceError {
        ServiceError::InvalidArgument {
            reason,
            violations: self.0,
        }
    }
}
