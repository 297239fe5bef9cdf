-- R19, R20: shipments created with the carriers' dispatch services. A row is written before
-- the carrier is called (the attempt, REQUESTED), gets the carrier's ids as soon as the carrier
-- answers, and becomes CREATED in the same transaction that marks the order shipped. So a
-- shipment the carrier created is never lost: a retry finds the row and applies it instead of
-- calling the carrier again.
CREATE TABLE shipments (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants (id),
    order_id             TEXT NOT NULL REFERENCES orders (id),
    account_id           TEXT NOT NULL REFERENCES carrier_accounts (id),
    carrier              TEXT NOT NULL CHECK (carrier IN ('poczta-polska', 'paczka-w-ruchu', 'inpost')),
    -- REQUESTED: sent (or about to be) and not applied yet; CREATED: the order ships with it;
    -- FAILED: refused (see failure_*); SUPERSEDED: replaced by a confirmed re-creation (R20).
    state                TEXT NOT NULL CHECK (state IN ('REQUESTED', 'CREATED', 'FAILED', 'SUPERSEDED')),
    -- What the carrier was given as our reference (the order id; printed on the label).
    reference            TEXT NOT NULL,
    -- A confirmed re-creation for an order already shipped (R20): applied as a tracking change.
    recreate             BOOLEAN NOT NULL DEFAULT FALSE,
    -- `caller:idempotency-key` of the call that made it: a retry with the same key answers with
    -- this shipment instead of creating another.
    request_key          TEXT,
    -- Times the request was sent to the carrier.
    attempts             INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- While in the future, a call is talking to the carrier about this row: others keep off.
    lease_until          TIMESTAMPTZ,
    carrier_shipment_id  TEXT,
    tracking_number      TEXT,
    label_reference      TEXT,
    -- Why it failed, or what went wrong last while it is still REQUESTED.
    failure_reason       TEXT,
    failure_message      TEXT,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    CHECK (state NOT IN ('CREATED', 'SUPERSEDED')
           OR (carrier_shipment_id IS NOT NULL AND tracking_number IS NOT NULL)),
    CHECK (state <> 'FAILED' OR failure_reason IS NOT NULL)
);

-- One attempt in progress per order, and one shipment the order currently ships with.
CREATE UNIQUE INDEX shipments_one_requested ON shipments (order_id) WHERE state = 'REQUESTED';
CREATE UNIQUE INDEX shipments_one_created ON shipments (order_id) WHERE state = 'CREATED';
-- A merchant's shipments, newest first; and an order's history.
CREATE INDEX shipments_by_merchant ON shipments (merchant_id, created_at DESC);
CREATE INDEX shipments_by_order ON shipments (order_id, created_at);
