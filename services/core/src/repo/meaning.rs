//! What a database error means to the caller, said by the repository function that knows it
//! (issue 23.1). `From<diesel::result::Error>` can only say "a record": the function that wrote
//! the statement knows which merchant, order or account a violated constraint stands for, so it
//! names them here, one line per call. Anything not listed falls back to that `From`, so
//! `INTERNAL` stays for what the caller did not cause.

use diesel::result::{DatabaseErrorKind, Error};

use crate::error::{ServiceError, ServiceResult};

/// One thing a failed statement may mean; the first that matches the error wins.
#[derive(Debug, Clone)]
pub enum Meaning<'a> {
    /// A unique violation (on `constraint`, or on any when `None`): ALREADY_EXISTS of `what`.
    Duplicate {
        constraint: Option<&'static str>,
        reason: &'static str,
        what: String,
    },
    /// A foreign key violation on `constraint`: the referenced `resource` `id` is NOT_FOUND.
    MissingReference {
        constraint: &'static str,
        resource: &'static str,
        id: &'a str,
    },
    /// No row where one was expected (`.first()`, `.get_result()`): NOT_FOUND of that entity.
    Absent { resource: &'static str, id: &'a str },
}

impl<'a> Meaning<'a> {
    /// Any unique violation of the statement: `what` already exists.
    pub fn duplicate(reason: &'static str, what: impl Into<String>) -> Self {
        Self::Duplicate {
            constraint: None,
            reason,
            what: what.into(),
        }
    }

    /// A violation of the unique `constraint`: `what` already exists.
    pub fn duplicate_on(
        constraint: &'static str,
        reason: &'static str,
        what: impl Into<String>,
    ) -> Self {
        Self::Duplicate {
            constraint: Some(constraint),
            reason,
            what: what.into(),
        }
    }

    pub fn missing(constraint: &'static str, resource: &'static str, id: &'a str) -> Self {
        Self::MissingReference {
            constraint,
            resource,
            id,
        }
    }

    pub fn absent(resource: &'static str, id: &'a str) -> Self {
        Self::Absent { resource, id }
    }

    fn applies_to(&self, error: &Error) -> bool {
        match (self, error) {
            (
                Self::Duplicate { constraint, .. },
                Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info),
            ) => constraint.is_none_or(|c| info.constraint_name() == Some(c)),
            (
                Self::MissingReference { constraint, .. },
                Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info),
            ) => info.constraint_name() == Some(*constraint),
            (Self::Absent { .. }, Error::NotFound) => true,
            _ => false,
        }
    }

    fn into_error(self) -> ServiceError {
        match self {
            Self::Duplicate { reason, what, .. } => ServiceError::AlreadyExists {
                reason,
                message: format!("{what} already exists"),
            },
            Self::MissingReference { resource, id, .. } | Self::Absent { resource, id } => {
                ServiceError::not_found(resource, id)
            }
        }
    }
}

/// The caller's error for `error`, given what the statement's author says it may mean.
pub fn meaning_of<'a>(
    error: Error,
    meanings: impl IntoIterator<Item = Meaning<'a>>,
) -> ServiceError {
    match meanings.into_iter().find(|m| m.applies_to(&error)) {
        Some(meaning) => {
            // PostgreSQL's own text (constraint, values) stays in the log, never in the answer.
            tracing::debug!(%error, "database error mapped to the caller's error");
            meaning.into_error()
        }
        None => ServiceError::from(error),
    }
}

/// `.means(|| [...])` on a query's result: the one line each repository function adds. The
/// meanings are built only when the statement failed, so the success path costs nothing.
pub trait Means<T> {
    fn means<'a, I>(self, meanings: impl FnOnce() -> I) -> ServiceResult<T>
    where
        I: IntoIterator<Item = Meaning<'a>>;
}

impl<T> Means<T> for diesel::QueryResult<T> {
    fn means<'a, I>(self, meanings: impl FnOnce() -> I) -> ServiceResult<T>
    where
        I: IntoIterator<Item = Meaning<'a>>,
    {
        self.map_err(|error| meaning_of(error, meanings()))
    }
}
