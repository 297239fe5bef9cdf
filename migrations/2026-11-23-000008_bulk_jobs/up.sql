-- Bulk fulfilment by CSV (R7): an uploaded file becomes a job whose rows are applied one by one,
-- in the background, each in its own transaction with its outcome. The history is kept.
CREATE TABLE bulk_jobs (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    file_name       TEXT NOT NULL DEFAULT '' CHECK (length(file_name) <= 255),
    -- Who uploaded it; rows are applied as this actor.
    actor           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED')),
    total_rows      INTEGER NOT NULL CHECK (total_rows >= 0),
    processed_rows  INTEGER NOT NULL DEFAULT 0,
    accepted_rows   INTEGER NOT NULL DEFAULT 0,
    rejected_rows   INTEGER NOT NULL DEFAULT 0,
    -- Rows the merchant left unfilled: not applied, not in total_rows.
    skipped_rows    INTEGER NOT NULL DEFAULT 0 CHECK (skipped_rows >= 0),
    error           TEXT,
    -- A processor holds a job while `lease_until` is in the future; a crashed one's job is
    -- taken over once it passes.
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    CHECK (processed_rows = accepted_rows + rejected_rows AND processed_rows <= total_rows),
    CHECK ((state IN ('COMPLETED', 'FAILED')) = (finished_at IS NOT NULL))
);

-- ListBulkJobs: a merchant's history, newest first.
CREATE INDEX bulk_jobs_by_merchant ON bulk_jobs (merchant_id, created_at DESC, id DESC);
-- The processors' queue.
CREATE INDEX bulk_jobs_unfinished ON bulk_jobs (created_at) WHERE state IN ('PENDING', 'RUNNING');

CREATE TABLE bulk_job_rows (
    job_id          TEXT NOT NULL REFERENCES bulk_jobs (id),
    -- Line of the file the row starts on (the header is line 1).
    line            INTEGER NOT NULL CHECK (line > 1),
    order_id        TEXT NOT NULL,
    carrier         TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    origin_country  TEXT NOT NULL,
    outcome         TEXT NOT NULL DEFAULT 'PENDING' CHECK (outcome IN ('PENDING', 'ACCEPTED', 'REJECTED')),
    reason          TEXT NOT NULL DEFAULT '',
    message         TEXT NOT NULL DEFAULT '',
    processed_at    TIMESTAMPTZ,
    PRIMARY KEY (job_id, line),
    CHECK ((outcome = 'PENDING') = (processed_at IS NULL))
);

-- The processor's next rows of a job.
CREATE INDEX bulk_job_rows_pending ON bulk_job_rows (job_id, line) WHERE outcome = 'PENDING';
