CREATE TABLE orders (
    id                              TEXT PRIMARY KEY CHECK (id <> '' AND length(id) <= 64),
    merchant_id                     TEXT NOT NULL REFERENCES merchants (id),
    state                           TEXT NOT NULL CHECK (state IN ('APPROVED', 'SHIPPED', 'REFUNDED')),
    -- R1: the first release, kept forever; `released_at` moves on a re-release (R16).
    initial_released_at             TIMESTAMPTZ NOT NULL,
    released_at                     TIMESTAMPTZ NOT NULL CHECK (released_at >= initial_released_at),
    fulfillment_deadline            TIMESTAMPTZ NOT NULL,
    is_wish_express                 BOOLEAN NOT NULL DEFAULT false,
    is_advanced_logistics           BOOLEAN NOT NULL DEFAULT false,
    -- Where the merchant ships to (the A+ warehouse for an A+ order).
    ship_name                       TEXT NOT NULL,
    ship_street_address1            TEXT NOT NULL,
    ship_street_address2            TEXT NOT NULL DEFAULT '',
    ship_city                       TEXT NOT NULL,
    ship_state                      TEXT NOT NULL DEFAULT '',
    ship_zipcode                    TEXT NOT NULL,
    ship_country                    TEXT NOT NULL CHECK (ship_country ~ '^[A-Z]{2}$'),
    ship_phone_number               TEXT NOT NULL DEFAULT '',
    -- The customer's own address (R18), as JSON with the same fields as the ship_* columns.
    customer_shipping_detail        JSONB NOT NULL,
    product_id                      TEXT NOT NULL DEFAULT '',
    product_name                    TEXT NOT NULL DEFAULT '',
    quantity                        INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),
    -- R15-R17
    tracking_number_cancelled       BOOLEAN NOT NULL DEFAULT false,
    tracking_number_cancelled_date  TIMESTAMPTZ,
    is_re_released                  BOOLEAN NOT NULL DEFAULT false,
    order_re_released_date          TIMESTAMPTZ,
    flags                           TEXT[] NOT NULL DEFAULT '{}',
    refund_reason                   TEXT CHECK (refund_reason IN ('NOT_SHIPPED_IN_TIME', 'TRACKING_CANCELLED_LATE')),
    refunded_at                     TIMESTAMPTZ,
    created_at                      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((state = 'REFUNDED') = (refund_reason IS NOT NULL)),
    CHECK (tracking_number_cancelled = (tracking_number_cancelled_date IS NOT NULL)),
    CHECK (is_re_released = (order_re_released_date IS NOT NULL))
);

-- ListOrdersToFulfill: a merchant's APPROVED orders by deadline (keyset on deadline, id).
CREATE INDEX orders_to_fulfill ON orders (merchant_id, fulfillment_deadline, id) WHERE state = 'APPROVED';
-- The deadline worker (R5): APPROVED orders past their deadline.
CREATE INDEX orders_approved_by_deadline ON orders (fulfillment_deadline) WHERE state = 'APPROVED';
-- Exports and operators: a merchant's orders by state and release.
CREATE INDEX orders_by_merchant_state ON orders (merchant_id, state, released_at);

-- A parcel as the carrier knows it. (carrier, tracking_number) is unique and belongs to one merchant (R3).
CREATE TABLE trackings (
    id                        BIGSERIAL PRIMARY KEY,
    merchant_id               TEXT NOT NULL REFERENCES merchants (id),
    carrier                   TEXT NOT NULL,
    tracking_number           TEXT NOT NULL CHECK (tracking_number ~ '^[A-Z0-9]{1,64}$'),
    status                    TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN (
                                  'PENDING', 'INFO_RECEIVED', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'FAILED_ATTEMPT',
                                  'AVAILABLE_FOR_PICKUP', 'DELIVERED', 'EXCEPTION', 'EXPIRED', 'CANCELLED')),
    carrier_status_code       TEXT,
    carrier_status_text       TEXT,
    -- R21: first real scan, first delivery.
    confirmed_fulfillment_at  TIMESTAMPTZ,
    delivered_at              TIMESTAMPTZ,
    cancelled_at              TIMESTAMPTZ,
    cancelled_by              TEXT CHECK (cancelled_by IN ('MERCHANT', 'CARRIER')),
    last_event_at             TIMESTAMPTZ,
    -- R22 polling: NULL once final or expired.
    next_poll_at              TIMESTAMPTZ,
    poll_failures             INTEGER NOT NULL DEFAULT 0,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (carrier, tracking_number),
    CHECK ((cancelled_at IS NULL) = (cancelled_by IS NULL))
);

CREATE INDEX trackings_due_for_poll ON trackings (next_poll_at) WHERE next_poll_at IS NOT NULL;

-- Which tracking an order ships with, with history: an order's earlier trackings stay (R4),
-- and several orders may share one tracking (R10).
CREATE TABLE order_trackings (
    id                    BIGSERIAL PRIMARY KEY,
    order_id              TEXT NOT NULL REFERENCES orders (id),
    tracking_id           BIGINT NOT NULL REFERENCES trackings (id),
    origin_country        TEXT NOT NULL CHECK (origin_country ~ '^[A-Z]{2}$'),
    channel               TEXT NOT NULL CHECK (channel IN ('API', 'DASHBOARD')),
    shipped_at            TIMESTAMPTZ NOT NULL,
    -- R2: marked shipped after the deadline (a policy violation).
    shipped_late          BOOLEAN NOT NULL,
    is_current            BOOLEAN NOT NULL DEFAULT true,
    replaced_at           TIMESTAMPTZ,
    -- R15: this order's confirmed date was removed after a cancellation.
    confirmed_removed_at  TIMESTAMPTZ,
    CHECK (is_current = (replaced_at IS NULL))
);

CREATE UNIQUE INDEX order_trackings_one_current ON order_trackings (order_id) WHERE is_current;
CREATE INDEX order_trackings_by_order ON order_trackings (order_id, id);
CREATE INDEX order_trackings_current_by_tracking ON order_trackings (tracking_id) WHERE is_current;
