-- R21, R22: carriers' facts, stored before they are applied, deduplicated by the carrier's
-- event id (or a hash of carrier, number, time and status). Append-only: the history of a
-- tracking is the history of its events.
CREATE TABLE tracking_events (
    id                   BIGSERIAL PRIMARY KEY,
    tracking_id          BIGINT NOT NULL REFERENCES trackings (id),
    event_key            TEXT NOT NULL CHECK (event_key <> '' AND length(event_key) <= 200),
    -- How it came in: polled, pushed over gRPC, the Intelipost webhook, or CancelTracking.
    source               TEXT NOT NULL CHECK (source IN ('POLL', 'PUSH', 'WEBHOOK', 'CANCEL')),
    actor                TEXT NOT NULL,
    occurred_at          TIMESTAMPTZ NOT NULL,
    status               TEXT NOT NULL CHECK (status IN (
                             'PENDING', 'INFO_RECEIVED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'FAILED_ATTEMPT',
                             'AVAILABLE_FOR_PICKUP', 'DELIVERED', 'EXCEPTION', 'EXPIRED', 'CANCELLED')),
    carrier_status_code  TEXT NOT NULL,
    carrier_status_text  TEXT NOT NULL,
    location             TEXT NOT NULL,
    raw_payload          TEXT NOT NULL,
    received_at          TIMESTAMPTZ NOT NULL,
    -- A redelivered event changes nothing; this index also serves a tracking's checkpoints.
    UNIQUE (tracking_id, event_key)
);

CREATE TRIGGER tracking_events_append_only
    BEFORE UPDATE OR DELETE ON tracking_events
    FOR EACH ROW EXECUTE FUNCTION order_events_are_append_only();

-- ListStuckTrackings (R13): a merchant's trackings not yet scanned.
CREATE INDEX trackings_unconfirmed_by_merchant ON trackings (merchant_id, carrier)
    WHERE confirmed_fulfillment_at IS NULL AND cancelled_at IS NULL;

-- R13, R14: a merchant's Intelipost integration: the event rule pushing to our webhook, with the
-- Basic-auth user name and the password's hash (never the password).
CREATE TABLE intelipost_integrations (
    merchant_id    TEXT PRIMARY KEY REFERENCES merchants (id),
    username       TEXT NOT NULL UNIQUE CHECK (username <> '' AND length(username) <= 200),
    password_hash  TEXT NOT NULL,
    connected      BOOLEAN NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    last_push_at   TIMESTAMPTZ
);

CREATE TABLE intelipost_integration_events (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    details      JSONB NOT NULL DEFAULT '{}',
    occurred_at  TIMESTAMPTZ NOT NULL
);

CREATE TRIGGER intelipost_integration_events_append_only
    BEFORE UPDATE OR DELETE ON intelipost_integration_events
    FOR EACH ROW EXECUTE FUNCTION order_events_are_append_only();

-- R12: what Intelipost reported: the carrier's tracking number belongs to this NF-e invoice.
CREATE TABLE intelipost_nfe_mappings (
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    carrier_number  TEXT NOT NULL CHECK (carrier_number ~ '^[A-Z0-9]{1,64}$'),
    nfe_number      TEXT NOT NULL CHECK (nfe_number ~ '^[0-9]{1,44}$'),
    reported_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, carrier_number)
);
