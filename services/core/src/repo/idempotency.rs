//! Idempotency keys: a replay of (caller, key) returns the first response. The key row is
//! written in the same transaction as the mutation, so a rolled-back call leaves no key behind,
//! and a concurrent duplicate waits on the row lock until the first one commits.
//!
//! Keys expire after a retention (default [`DEFAULT_RETENTION_HOURS`]): an expired key counts
//! as never seen, even before [`purge_expired`] has removed it, so a key's meaning does not
//! depend on when the purge last ran.

use chrono::{DateTime, Utc};
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

/// How long a key is remembered unless configured otherwise (documented in the API).
pub const DEFAULT_RETENTION_HOURS: u64 = 24;

/// Claims `key` for this call at `now`; a key first used before `expired_before` is taken over
/// as new.
pub fn claim(
    conn: &mut PgConnection,
    caller: &str,
    key: &str,
    rpc: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
) -> QueryResult<Claim> {
    use diesel::upsert::excluded;
    let upsert = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::caller.eq(caller),
            idempotency_keys::key.eq(key),
            idempotency_keys::rpc.eq(rpc),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::created_at.eq(now),
        ))
        .on_conflict((idempotency_keys::caller, idempotency_keys::key))
        .do_update()
        .set((
            idempotency_keys::rpc.eq(excluded(idempotency_keys::rpc)),
            idempotency_keys::request_hash.eq(excluded(idempotency_keys::request_hash)),
            idempotency_keys::response.eq(None::<Vec<u8>>),
            idempotency_keys::created_at.eq(excluded(idempotency_keys::created_at)),
        ));
    // `ON CONFLICT ... DO UPDATE ... WHERE`: only an expired key is taken over; a live one is
    // left as it is (0 rows) and read below. (`FilterDsl` by path: `QueryDsl` does not cover
    // insert statements.)
    let inserted = diesel::query_dsl::methods::FilterDsl::filter(
        upsert,
        idempotency_keys::created_at.lt(expired_before),
    )
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

/// Removes keys first used before `expired_before`, at most `batch` at a time, each batch its
/// own short statement. `SKIP LOCKED`: a key a call holds right now is left for the next run,
/// so the purge never waits on a call and no call waits on the purge. Returns how many went.
pub fn purge_expired(
    conn: &mut PgConnection,
    expired_before: DateTime<Utc>,
    batch: i64,
) -> QueryResult<usize> {
    let mut purged = 0;
    loop {
        // Run outside a transaction: each batch commits on its own and holds its locks briefly.
        let gone = diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE (caller, key) IN (
                 SELECT caller, key FROM idempotency_keys WHERE created_at < $1
                 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(expired_before)
        .bind::<diesel::sql_types::BigInt, _>(batch)
        .execute(conn)?;
        purged += gone;
        if i64::try_from(gone).unwrap_or(i64::MAX) < batch {
            return Ok(purged);
        }
    }
}
