-- R19: merchants' carrier accounts. Secrets are sealed by the service (AES-256-GCM) before they
-- reach the database; the row keeps the id of the key that sealed them so keys can rotate.
CREATE TABLE carrier_accounts (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    carrier           TEXT NOT NULL CHECK (carrier IN ('poczta-polska', 'paczka-w-ruchu', 'inpost')),
    -- Poczta Polska: 'regular' or 'marketplace' (a merchant may connect both); '' otherwise.
    kind              TEXT NOT NULL DEFAULT '',
    -- Non-secret settings, shown back to the merchant.
    settings          JSONB NOT NULL DEFAULT '{}',
    secret_key_id     TEXT NOT NULL,
    secret_sealed     BYTEA NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    disconnected_at   TIMESTAMPTZ
);

-- One connected account per merchant, carrier and kind; reconnecting replaces its credentials.
CREATE UNIQUE INDEX carrier_accounts_one_connected
    ON carrier_accounts (merchant_id, carrier, kind) WHERE disconnected_at IS NULL;

-- Key rotation finds what is still sealed under an old key.
CREATE INDEX carrier_accounts_by_key ON carrier_accounts (secret_key_id);

-- Append-only audit of account changes (never the secrets).
CREATE TABLE carrier_account_events (
    id           BIGSERIAL PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES carrier_accounts (id),
    merchant_id  TEXT NOT NULL,
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    details      JSONB NOT NULL DEFAULT '{}',
    occurred_at  TIMESTAMPTZ NOT NULL
);

CREATE TRIGGER carrier_account_events_append_only
    BEFORE UPDATE OR DELETE ON carrier_account_events
    FOR EACH ROW EXECUTE FUNCTION order_events_are_append_only();
