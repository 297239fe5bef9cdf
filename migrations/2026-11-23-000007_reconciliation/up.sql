-- R15-R18, per order and tracking: the cancellation detected (R15 applied), decided (R16), and,
-- for A+ orders the partner carrier cancelled, the address reset (R18). A worker's queue is the
-- rows whose step is still empty; setting it in the batch's transaction is what makes a step
-- happen exactly once.
ALTER TABLE order_trackings
    ADD COLUMN cancellation_detected_at  TIMESTAMPTZ,
    ADD COLUMN cancellation_decided_at   TIMESTAMPTZ,
    ADD COLUMN cancellation_outcome      TEXT CHECK (cancellation_outcome IN (
                                             'NOT_APPLICABLE', 'FLAG_ONLY', 'RE_RELEASE', 'REFUND')),
    ADD COLUMN aplus_reset_at            TIMESTAMPTZ,
    ADD CHECK ((cancellation_decided_at IS NULL) = (cancellation_outcome IS NULL));

CREATE INDEX trackings_cancelled ON trackings (id) WHERE cancelled_at IS NOT NULL;
CREATE INDEX order_trackings_to_decide ON order_trackings (id)
    WHERE cancellation_detected_at IS NOT NULL AND cancellation_decided_at IS NULL;
CREATE INDEX order_trackings_to_reset ON order_trackings (id)
    WHERE cancellation_outcome = 'RE_RELEASE' AND aplus_reset_at IS NULL;

-- R5: a late order is a policy violation of its merchant; its product may be disabled.
CREATE TABLE merchant_violations (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    order_id     TEXT NOT NULL REFERENCES orders (id),
    kind         TEXT NOT NULL CHECK (kind IN ('NOT_SHIPPED_IN_TIME')),
    occurred_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (order_id, kind)
);

CREATE TABLE product_disable_candidates (
    id           BIGSERIAL PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    product_id   TEXT NOT NULL,
    order_id     TEXT NOT NULL UNIQUE REFERENCES orders (id),
    reason       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

-- R9: one digest per merchant per (UTC) day, whatever the schedule: the key makes it so.
CREATE TABLE merchant_notifications (
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    day                DATE NOT NULL,
    orders_to_fulfill  INTEGER NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, day)
);
