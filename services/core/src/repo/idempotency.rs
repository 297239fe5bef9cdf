//! Idempotency keys: a replay of (caller, key) returns the first response. The key row is
//! written in the same transaction as the mutation, so a rolled-back call leaves no key behind,
//! and a concurrent duplicate waits on the row lock until the first one commits.

use diesel::prelude::*;

use crate::schema::idempotency_keys;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use of the key: do the work, then `complete`.
    New,
    /// Seen before with the same request: answer with this stored response.
    Replay(Vec<u8>),
    /// Seen before with a different request or RPC.
    Mismatch { rpc: String },
}

pub fn claim(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    rpc: &str,
    request_hash: &[u8],
) -> QueryResult<Claim> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::caller.eq(caller),
            idempotency_keys::key.eq(key),
            idempotency_keys::rpc.eq(rpc),
            idempotency_keys::request_hash.eq(request_hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (stored_rpc, stored_hash, response): (String, Vec<u8>, Option<Vec<u8>>) =
        idempotency_keys::table
            .find((caller, key))
            .select((
                idempotency_keys::rpc,
                idempotency_keys::request_hash,
                idempotency_keys::response,
            ))
            .first(conn)?;
    match response {
        Some(response) if stored_rpc == rpc && stored_hash == request_hash => {
            Ok(Claim::Replay(response))
        }
        _ => Ok(Claim::Mismatch { rpc: stored_rpc }),
    }
}

pub fn complete(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    response: &[u8],
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((caller, key)))
        .set(idempotency_keys::response.eq(response))
        .execute(conn)?;
    Ok(())
}
