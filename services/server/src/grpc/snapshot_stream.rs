//! Server streams fed from one read-only database snapshot, on a blocking thread.

use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use fulfillment_core::ServiceResult;
use tonic::Status;
use tonic::codegen::BoxStream;

use crate::state::AppState;
use crate::status::to_status;

/// Streams what `produce` writes, item by item, from a blocking thread holding one pooled
/// connection in a read-only repeatable-read snapshot: what is streamed is consistent, cannot
/// write whatever it calls, and memory holds a few items whatever the total. `statement_timeout`
/// (a `SET LOCAL statement_timeout = ...` statement) bounds the snapshot by the reader, not by
/// the per-call timeout. The sink answers false, and `produce` should stop, once the reader has
/// gone away. An error ends the stream with its status.
pub fn snapshot_stream<T, F>(
    state: &AppState,
    statement_timeout: &'static str,
    produce: F,
) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection, &mut dyn FnMut(T) -> bool) -> ServiceResult<()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<T, Status>>(4);
    let pool = state.db.pool().clone();
    tokio::task::spawn_blocking(move || {
        let result = (|| -> ServiceResult<()> {
            let mut conn = pool.get()?;
            conn.build_transaction()
                .repeatable_read()
                .read_only()
                .run(|conn| {
                    conn.batch_execute(statement_timeout)?;
                    let mut sink = |item: T| tx.blocking_send(Ok(item)).is_ok();
                    produce(conn, &mut sink)
                })
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(to_status(e)));
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
