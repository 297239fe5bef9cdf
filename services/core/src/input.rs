//! The vocabulary every operation crate checks its input with: who acts, and what an id or a
//! free text may look like. Here (not in one operation crate) so that orders, tracking and
//! dispatch share it without depending on each other.

use diesel::PgConnection;

use crate::{ServiceError, ServiceResult, Violations, repo};

pub const MAX_ID_LEN: usize = 64;
pub const MAX_TEXT_LEN: usize = 200;

/// Who is acting, recorded in every audit row (e.g. `api:anonymous`, `worker:deadline-enforcer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn api(caller: &str) -> Self {
        Self(format!("api:{caller}"))
    }
}

pub fn check_id(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.add(field, "is required");
    } else if value.len() > MAX_ID_LEN {
        v.add(field, format!("must be at most {MAX_ID_LEN} characters"));
    } else if value.trim() != value || value.chars().any(char::is_control) {
        v.add(
            field,
            "must not contain surrounding spaces or control characters",
        );
    }
}

/// A read or list under a merchant that does not exist is NOT_FOUND naming the merchant
/// (AIP-132: a missing parent), never an empty answer: a misspelt id must not look like "nothing
/// to do". One primary-key probe; every merchant-scoped read calls it after validating input.
pub fn require_merchant(conn: &mut PgConnection, merchant_id: &str) -> ServiceResult<()> {
    match repo::merchants::find(conn, merchant_id)? {
        Some(_) => Ok(()),
        None => Err(ServiceError::not_found("merchant", merchant_id)),
    }
}
