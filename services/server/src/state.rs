//! What every RPC handler shares, and the idempotent-transaction helper.

use std::sync::Arc;

use diesel::PgConnection;
use fulfillment_core::repo::idempotency::{self, Claim};
use fulfillment_core::{Db, ServiceError, ServiceResult, SharedClock};
use fulfillment_orders::{Actor, PolicyStore};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

use crate::status::{invalid_field, to_status};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub policies: Arc<PolicyStore>,
}

/// Who is calling. Authentication (a later layer) will put the caller's identity here; until
/// then every call is the anonymous local caller.
pub fn caller<T>(_request: &Request<T>) -> String {
    "anonymous".to_owned()
}

impl AppState {
    /// Runs `f` in one transaction and maps its error once.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Status>
    where
        F: FnOnce(&mut PgConnection, &AppState) -> ServiceResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        self.db
            .transaction(move |conn| f(conn, &state))
            .await
            .map_err(to_status)
    }

    /// Runs a mutation in one transaction, honouring the `idempotency-key` metadata: the first
    /// call's response is stored with the change; a replay with the same request returns it;
    /// the same key with a different request is refused.
    pub async fn mutate<Req, Resp, F>(
        &self,
        rpc: &'static str,
        request: Request<Req>,
        f: F,
    ) -> Result<Resp, Status>
    where
        Req: Message + Send + 'static,
        Resp: Message + Default + Send + 'static,
        F: FnOnce(&mut PgConnection, &AppState, &Actor, Req) -> ServiceResult<Resp>
            + Send
            + 'static,
    {
        let caller = caller(&request);
        let key = match request.metadata().get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => match value.to_str() {
                Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => Some(key.to_owned()),
                _ => {
                    return Err(invalid_field(
                        "IDEMPOTENCY_KEY_INVALID",
                        IDEMPOTENCY_KEY,
                        "must be 1 to 255 visible ASCII characters",
                    ));
                }
            },
        };
        let message = request.into_inner();
        let mut hasher = Sha256::new();
        hasher.update(rpc.as_bytes());
        hasher.update(message.encode_to_vec());
        let hash = hasher.finalize().to_vec();
        let actor = Actor::api(&caller);
        let state = self.clone();
        self.db
            .transaction(move |conn| {
                let Some(key) = key else {
                    return f(conn, &state, &actor, message);
                };
                match idempotency::claim(conn, &caller, &key, rpc, &hash)? {
                    Claim::New => {
                        let response = f(conn, &state, &actor, message)?;
                        idempotency::complete(conn, &caller, &key, &response.encode_to_vec())?;
                        Ok(response)
                    }
                    Claim::Replay(bytes) => Resp::decode(bytes.as_slice()).map_err(ServiceError::internal),
                    Claim::Mismatch { rpc: first_rpc } => Err(ServiceError::precondition(
                        "IDEMPOTENCY_KEY_REUSED",
                        format!(
                            "idempotency key {key:?} was first used for a different {first_rpc} request; use a new key"
                        ),
                    )),
                }
            })
            .await
            .map_err(to_status)
    }
}
