//! What other systems and operators follow: the outbox (R9, ListOutboxEvents) and the workers'
//! runs (ListWorkerRuns). Cursor-paginated; a token is an opaque position.

use diesel::PgConnection;
use fulfillment_core::paging;
use fulfillment_core::repo::outbox::Positioned;
use fulfillment_core::repo::worker_runs::WorkerRun;
use fulfillment_core::{ServiceResult, Violations, repo};

pub const MAX_OUTBOX_PAGE: i64 = 1000;
pub const DEFAULT_OUTBOX_PAGE: i64 = 100;
pub const MAX_RUNS_PAGE: i64 = 500;
pub const DEFAULT_RUNS_PAGE: i64 = 50;
const MAX_EVENT_TYPES: usize = 20;

/// `"<txid>.<id>"`: the position after the last event returned.
fn decode_outbox_token(token: &str) -> Option<(String, i64)> {
    if token.is_empty() {
        return Some(("0".to_owned(), 0));
    }
    let (txid, id) = token.split_once('.')?;
    let txid_ok = !txid.is_empty() && txid.len() <= 20 && txid.bytes().all(|b| b.is_ascii_digit());
    txid_ok.then_some(())?;
    txid.parse::<u64>().ok()?;
    Some((txid.to_owned(), id.parse().ok()?))
}

/// A page of outbox events after `page_token`, oldest first, and the token to continue from
/// (always set: a consumer polls with it until new events appear).
pub fn list_outbox(
    conn: &mut PgConnection,
    event_types: &[String],
    page_size_requested: i32,
    page_token: &str,
    consumer: &str,
) -> ServiceResult<(Vec<Positioned>, String)> {
    let mut v = Violations::new();
    let size = paging::page_size(
        &mut v,
        page_size_requested,
        DEFAULT_OUTBOX_PAGE,
        MAX_OUTBOX_PAGE,
    );
    if event_types.len() > MAX_EVENT_TYPES {
        v.add(
            "event_types",
            format!("at most {MAX_EVENT_TYPES} event types"),
        );
    }
    for t in event_types {
        if t.is_empty() || t.len() > 64 {
            v.add("event_types", "each must be 1 to 64 characters");
        }
    }
    let position = decode_outbox_token(page_token);
    if position.is_none() {
        v.add("page_token", "is not a token returned by this RPC");
    }
    if !consumer.is_empty() && !is_consumer_name(consumer) {
        v.add(
            "consumer",
            "must be 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
        );
    }
    v.finish("INVALID_REQUEST")?;
    let (txid, id) = position.unwrap_or_else(|| ("0".to_owned(), 0));
    if !consumer.is_empty() {
        // Asking for what follows the token says everything before it was handled.
        repo::outbox::record_consumer(conn, consumer, &txid, id, event_types)?;
    }
    let events = repo::outbox::after(conn, &txid, id, event_types, size)?;
    let next = match events.last() {
        Some(last) => format!("{}.{}", last.txid, last.id),
        None => format!("{txid}.{id}"),
    };
    Ok((events, next))
}

/// The names `outbox_consumers` accepts (its CHECK says the same).
fn is_consumer_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

/// A page of worker runs, newest first, optionally of one worker.
pub fn list_worker_runs(
    conn: &mut PgConnection,
    worker: &str,
    page_size_requested: i32,
    page_token: &str,
) -> ServiceResult<(Vec<WorkerRun>, String)> {
    let mut v = Violations::new();
    let size = paging::page_size(
        &mut v,
        page_size_requested,
        DEFAULT_RUNS_PAGE,
        MAX_RUNS_PAGE,
    );
    if worker.len() > 64 {
        v.add("worker", "must be at most 64 characters");
    }
    let before = paging::page_after(
        &mut v,
        page_token,
        |token| token.parse::<i64>().ok().filter(|id| *id > 0),
        "is not a token returned by this RPC",
    );
    v.finish("INVALID_REQUEST")?;
    let worker = (!worker.is_empty()).then_some(worker);
    let rows = repo::worker_runs::list(conn, worker, before, size + 1)?;
    let (runs, has_more) = paging::take_page(rows, size);
    let next = match (has_more, runs.last()) {
        (true, Some(last)) => last.id.to_string(),
        _ => String::new(),
    };
    Ok((runs, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_outbox_token(""), Some(("0".to_owned(), 0)));
        assert_eq!(decode_outbox_token("751.12"), Some(("751".to_owned(), 12)));
        for bad in [
            "x",
            "1",
            ".5",
            "1.x",
            "-1.2",
            "99999999999999999999999.1",
            "1;drop.2",
        ] {
            assert_eq!(decode_outbox_token(bad), None, "{bad}");
        }
    }
}
