-- Merchants as synced from the merchant directory; `country` drives R16.
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY CHECK (id <> '' AND length(id) <= 64),
    name        TEXT NOT NULL CHECK (name <> ''),
    country     TEXT NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- R30: policy values are data, versioned with an effective date.
CREATE TABLE policies (
    version                  INTEGER PRIMARY KEY CHECK (version > 0),
    effective_from           TIMESTAMPTZ NOT NULL UNIQUE,
    fulfillment_window_days  INTEGER NOT NULL CHECK (fulfillment_window_days > 0),
    combine_window_days      INTEGER NOT NULL CHECK (combine_window_days >= 0),
    rerelease_window_days    INTEGER NOT NULL CHECK (rerelease_window_days > 0),
    rerelease_deadline_days  INTEGER NOT NULL CHECK (rerelease_deadline_days > 0),
    confirmed_removal_from   TIMESTAMPTZ NOT NULL,
    rerelease_from           TIMESTAMPTZ NOT NULL,
    rerelease_countries      TEXT[] NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO policies (version, effective_from, fulfillment_window_days, combine_window_days,
                      rerelease_window_days, rerelease_deadline_days, confirmed_removal_from,
                      rerelease_from, rerelease_countries)
VALUES (1, '2000-01-01T00:00:00Z', 5, 5, 25, 5, '2020-11-10T00:00:00Z', '2021-03-04T00:00:00Z', '{CN}');
