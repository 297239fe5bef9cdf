//! The gate every gRPC call passes before its handler (issue 5): authenticate the bearer token,
//! check the role against [`crate::authz`], and hold a per-caller concurrency permit for the
//! call's lifetime. Health and reflection pass untouched.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use fulfillment_core::ServiceError;
use fulfillment_core::logging::Truncated;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{Caller, TokenTable, bearer_token};
use crate::authz;
use crate::status::to_status;

/// The token table, swapped whole when its file changes.
pub type SharedTokens = Arc<RwLock<Arc<TokenTable>>>;

pub struct Gate {
    /// `None`: open local mode (no tokens configured; only allowed on loopback listeners).
    tokens: Option<SharedTokens>,
    max_in_flight: usize,
    in_flight: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// What the gate decided for one call.
pub enum Admission {
    Public,
    Caller(Caller, OwnedSemaphorePermit),
}

impl Gate {
    pub fn new(tokens: Option<SharedTokens>, max_in_flight_per_caller: usize) -> Self {
        Self {
            tokens,
            max_in_flight: max_in_flight_per_caller.max(1),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub fn admit(&self, path: &str, headers: &http::HeaderMap) -> Result<Admission, ServiceError> {
        if authz::is_public(path) {
            return Ok(Admission::Public);
        }
        let caller = match &self.tokens {
            None => Caller::local(),
            Some(tokens) => {
                let caller = authenticate(tokens, headers)?;
                let roles = authz::allowed_roles(path).ok_or_else(|| {
                    ServiceError::permission_denied(
                        "UNKNOWN_METHOD",
                        format!("{path} is not a method of this server"),
                    )
                })?;
                match caller.role {
                    Some(role) if roles.contains(&role) => {}
                    role => {
                        tracing::info!(caller = %caller.id, path = %Truncated(path), "call refused: role not allowed");
                        return Err(ServiceError::permission_denied(
                            "ROLE_NOT_ALLOWED",
                            format!(
                                "role {} may not call {path}",
                                role.map_or("(none)", |r| r.as_str())
                            ),
                        ));
                    }
                }
                caller
            }
        };
        let permit = self.permit(&caller)?;
        Ok(Admission::Caller(caller, permit))
    }

    fn permit(&self, caller: &Caller) -> Result<OwnedSemaphorePermit, ServiceError> {
        let semaphore = {
            let mut map = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(caller.id.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_in_flight)))
                .clone()
        };
        semaphore.try_acquire_owned().map_err(|_| {
            ServiceError::exhausted(
                "CALLER_CONCURRENCY_LIMIT",
                format!(
                    "caller {} already has {} calls in flight, the most allowed; retry with backoff",
                    caller.id, self.max_in_flight
                ),
            )
        })
    }
}

fn authenticate(tokens: &SharedTokens, headers: &http::HeaderMap) -> Result<Caller, ServiceError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(ServiceError::unauthenticated(
            "TOKEN_MISSING",
            "missing `authorization: Bearer <token>` metadata",
        ));
    };
    let token = value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        ServiceError::unauthenticated(
            "TOKEN_MALFORMED",
            "the authorization metadata must be `Bearer <token>`",
        )
    })?;
    let table = tokens
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    table.authenticate(token).ok_or_else(|| {
        tracing::info!("call refused: unknown bearer token");
        ServiceError::unauthenticated("TOKEN_INVALID", "the bearer token is not valid")
    })
}

/// Tower layer installing the gate in front of every service of the server.
#[derive(Clone)]
pub struct GateLayer {
    gate: Arc<Gate>,
}

impl GateLayer {
    pub fn new(gate: Arc<Gate>) -> Self {
        Self { gate }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GateService<S> {
    inner: S,
    gate: Arc<Gate>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for GateService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let permit = match self.gate.admit(request.uri().path(), request.headers()) {
            Ok(Admission::Public) => None,
            Ok(Admission::Caller(caller, permit)) => {
                tracing::Span::current().record("caller", caller.id.as_str());
                request.extensions_mut().insert(caller);
                Some(permit)
            }
            Err(error) => {
                let response = to_status(error).into_http();
                return Box::pin(async move { Ok(response) });
            }
        };
        // The clone that was polled ready serves this call (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let _permit = permit;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token_hash_hex;

    const PATH: &str = "/fulfillment.v1.FulfillmentService/GetOrder";

    fn gate(max: usize) -> Gate {
        let table = TokenTable::parse(&format!(
            "operator {}\nservice {}",
            token_hash_hex("a"),
            token_hash_hex("b")
        ))
        .unwrap();
        Gate::new(Some(Arc::new(RwLock::new(Arc::new(table)))), max)
    }

    fn bearer(token: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn each_caller_has_its_own_in_flight_limit() {
        let gate = gate(2);
        let first = gate.admit(PATH, &bearer("a")).unwrap();
        let second = gate.admit(PATH, &bearer("a")).unwrap();
        let refused = gate.admit(PATH, &bearer("a")).err().unwrap();
        assert_eq!(refused.reason(), "CALLER_CONCURRENCY_LIMIT");
        assert!(
            refused.to_string().contains("2 calls in flight"),
            "{refused}"
        );
        // Another caller is not held up by the first one.
        assert!(gate.admit(PATH, &bearer("b")).is_ok());
        // A finished call frees its slot.
        drop(first);
        assert!(gate.admit(PATH, &bearer("a")).is_ok());
        drop(second);
    }

    #[test]
    fn public_paths_need_no_token_and_unknown_methods_are_denied() {
        let gate = gate(1);
        let none = http::HeaderMap::new();
        assert!(matches!(
            gate.admit("/grpc.health.v1.Health/Check", &none),
            Ok(Admission::Public)
        ));
        let e = gate.admit(PATH, &none).err().unwrap();
        assert_eq!(e.reason(), "TOKEN_MISSING");
        let e = gate
            .admit(
                "/fulfillment.v1.FulfillmentService/DropTables",
                &bearer("a"),
            )
            .err()
            .unwrap();
        assert_eq!(e.reason(), "UNKNOWN_METHOD");
    }

    #[test]
    fn swapped_token_table_takes_effect_on_the_next_call() {
        let shared: SharedTokens = Arc::new(RwLock::new(Arc::new(
            TokenTable::parse(&format!("operator {}", token_hash_hex("old"))).unwrap(),
        )));
        let gate = Gate::new(Some(shared.clone()), 4);
        assert!(gate.admit(PATH, &bearer("old")).is_ok());
        *shared.write().unwrap() =
            Arc::new(TokenTable::parse(&format!("operator {}", token_hash_hex("new"))).unwrap());
        assert_eq!(
            gate.admit(PATH, &bearer("old")).err().unwrap().reason(),
            "TOKEN_INVALID"
        );
        assert!(gate.admit(PATH, &bearer("new")).is_ok());
    }
}
