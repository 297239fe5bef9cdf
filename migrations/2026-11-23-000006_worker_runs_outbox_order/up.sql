-- ListOutboxEvents reads the outbox in a gap-free order: by the writing transaction's id, then
-- by row id, and only rows of transactions older than every one still running (so no row can
-- later appear before a consumer's cursor, whatever order transactions commit in).
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_by_txid ON outbox (txid, id);

-- Every run of a worker binary: operators read them with ListWorkerRuns.
CREATE TABLE worker_runs (
    id           BIGSERIAL PRIMARY KEY,
    worker       TEXT NOT NULL CHECK (worker <> '' AND length(worker) <= 64),
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    outcome      TEXT NOT NULL CHECK (outcome IN ('running', 'completed', 'failed')),
    dry_run      BOOLEAN NOT NULL DEFAULT false,
    counts       JSONB NOT NULL DEFAULT '{}',
    error        TEXT,
    CHECK ((outcome = 'running') = (finished_at IS NULL))
);

CREATE INDEX worker_runs_by_worker ON worker_runs (worker, id);
