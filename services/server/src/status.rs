//! The one place a `ServiceError` becomes a `tonic::Status`, with `google.rpc.ErrorInfo` (a
//! stable reason) and, for bad input, `google.rpc.BadRequest` field violations.

use std::collections::HashMap;

use fulfillment_core::ServiceError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub const ERROR_DOMAIN: &str = fulfillment_proto::ERROR_DOMAIN;

pub fn to_status(error: ServiceError) -> Status {
    let reason = error.reason();
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    let code = match &error {
        ServiceError::InvalidArgument { violations, .. } => {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
            Code::InvalidArgument
        }
        ServiceError::NotFound { .. } => Code::NotFound,
        ServiceError::FailedPrecondition { .. } => Code::FailedPrecondition,
        ServiceError::AlreadyExists { .. } => Code::AlreadyExists,
        ServiceError::Aborted { .. } => Code::Aborted,
        ServiceError::Unauthenticated { .. } => Code::Unauthenticated,
        ServiceError::PermissionDenied { .. } => Code::PermissionDenied,
        ServiceError::ResourceExhausted { .. } => Code::ResourceExhausted,
        ServiceError::Unavailable(source) => {
            tracing::warn!(error = %source, "database unavailable");
            Code::Unavailable
        }
        ServiceError::Internal(source) => {
            // Logged once, here, with its whole cause chain (inside the call's `rpc` span, so
            // with its request id); the caller gets a short message with nothing internal in it.
            tracing::error!(error = %cause_chain(source.as_ref()), "internal error");
            Code::Internal
        }
    };
    Status::with_error_details(code, error.to_string(), details)
}

/// `outer: middle: root`, every `source()` of the error.
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        next = cause.source();
    }
    chain
}

/// A request field that failed wire-level checks (before any domain validation).
pub fn invalid_field(reason: &'static str, field: &str, description: &str) -> Status {
    to_status(ServiceError::invalid(reason, field, description))
}
