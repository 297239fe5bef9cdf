-- Append-only audit: every state change of an order leaves a row.
CREATE TABLE order_events (
    id              BIGSERIAL PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    merchant_id     TEXT NOT NULL,
    actor           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    state_before    TEXT,
    state_after     TEXT NOT NULL,
    policy_version  INTEGER REFERENCES policies (version),
    details         JSONB NOT NULL DEFAULT '{}',
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX order_events_by_order ON order_events (order_id, id);

CREATE FUNCTION order_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_events is append-only';
END;
$$;

CREATE TRIGGER order_events_append_only
    BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION order_events_are_append_only();

-- R9: what other systems must do, written in the same transaction as its cause.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    -- Stable id consumers deduplicate on, derived from the cause.
    event_id     TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    merchant_id  TEXT NOT NULL,
    order_id     TEXT,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX outbox_by_type ON outbox (event_type, id);

-- Idempotent mutations: a replay of (caller, key) returns the first response.
CREATE TABLE idempotency_keys (
    caller        TEXT NOT NULL,
    key           TEXT NOT NULL CHECK (key <> '' AND length(key) <= 255),
    rpc           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    response      BYTEA,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
