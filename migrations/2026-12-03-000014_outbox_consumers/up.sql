-- Issue 20.2: how far each outbox consumer has read. A consumer that names itself in
-- ListOutboxEvents has handled every event before the page token it resumes from; /metrics
-- reports the events after its position (its backlog) and the age of the oldest of them.
-- Operational bookkeeping, not a business fact: no audit row (nothing of an order changes).
CREATE TABLE outbox_consumers (
    consumer    TEXT PRIMARY KEY CHECK (consumer ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    txid        xid8 NOT NULL,
    id          BIGINT NOT NULL,
    -- The types it reads (all when empty): its backlog counts only these.
    event_types TEXT[] NOT NULL DEFAULT '{}',
    read_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
