-- Seeds a migrated, empty database for the reconciliation-pipeline benchmark (issue 7):
-- :n orders (default 1,000,000) of :merchants merchants (default 2,000), every one released,
-- shipped with its own tracking and scanned (or delivered), 5% of the trackings (every 20th
-- order) cancelled, some by the carrier, some by the merchant. Set-based (INSERT ... SELECT over
-- one plan table), but the rows are the ones the service's own code paths write:
--   merchants        repo::merchants::upsert                        (UpsertMerchant)
--   orders           release::release_order, then ship (state SHIPPED, updated_at = ship time)
--   order_events     'released' (R1, R2) and 'shipped' rows, same actor, details and policy version
--   outbox           'customer.notified:<shipped event id>' per shipped order (R9)
--   trackings        created by ship (next_poll_at = ship time), facts as tracking::ingest and
--                    tracking::cancel leave them (status, carrier code/text, confirmed, delivered,
--                    cancelled_at/by, last_event_at, next_poll_at NULL once final)
--   tracking_events  the scan (pushed), the delivery (pushed) and the cancellation ('CANCEL',
--                    event key 'id:cancel', 'cancelled by the carrier'/'merchant')
--   order_trackings  the ship link: origin CN, channel API, shipped_at, shipped_late false
-- The mix, chosen so every outcome of R15-R18 occurs:
--   merchants   70% CN, the rest US, BR, PL (R16 only re-releases CN)
--   orders      released 2020-10-15 .. 2021-12-31 (R15's 2020-11-10 inside), 10% A+ (R18),
--               3% shipped with USPS instead of WishPost (R15 applies to WishPost only)
--   ship/scan   shipped 1 day after release, first scan 1 day later, delivered 9 days after
--               release for 60% of the others; 5% of the cancelled ones never scanned
--   cancelled   2 days 1 minute to 41 days after release (both sides of R16's 25 calendar
--               days; before and after R16's 2021-03-04), 30% by the merchant
-- Usage: psql -v n=100000 -v merchants=2000 -f seed.sql DB   (DB migrated, empty)
\set ON_ERROR_STOP 1
\if :{?n}
\else
\set n 1000000
\endif
\if :{?merchants}
\else
\set merchants 2000
\endif
SET TIME ZONE 'UTC';
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';

\ir rfc3339.sql
\ir draws.sql

BEGIN;

INSERT INTO merchants (id, name, country, created_at, updated_at)
SELECT 'm-' || lpad(m::text, 5, '0'), 'Merchant ' || m,
       CASE WHEN m % 10 < 7 THEN 'CN' ELSE (ARRAY['US', 'BR', 'PL'])[1 + m % 3] END,
       timestamptz '2020-01-01 00:00Z', timestamptz '2020-01-01 00:00Z'
FROM generate_series(1, :merchants) m;

-- One row per order: everything random is drawn here, once (draws.sql: hashes of the order
-- number, so the same :n always gives the same data).
CREATE TEMP TABLE plan AS
SELECT i,
       'o-' || lpad(i::text, 8, '0') AS order_id,
       'm-' || lpad((1 + h1 % :merchants)::text, 5, '0') AS merchant_id,
       h2 % 100 < 10 AS aplus,
       CASE WHEN h3 % 100 < 3 THEN 'usps' ELSE 'wishpost' END AS carrier,
       CASE WHEN h3 % 100 < 3 THEN '9400' || lpad(i::text, 16, '0')
            ELSE 'WP' || lpad(i::text, 12, '0') END AS tracking_number,
       r AS released,
       r + interval '1 day' AS shipped,
       CASE WHEN i % 20 = 0 AND h5 % 100 < 5 THEN NULL ELSE r + interval '2 days' END AS scanned,
       CASE WHEN i % 20 <> 0 AND h6 % 100 < 60 THEN r + interval '9 days' END AS delivered,
       CASE WHEN i % 20 = 0 THEN cancel_at END AS cancelled,
       CASE WHEN i % 20 = 0 THEN CASE WHEN h8 % 100 < 30 THEN 'MERCHANT' ELSE 'CARRIER' END END
           AS cancelled_by,
       jsonb_build_object(
           'name', 'Customer ' || i,
           'street_address1', (1 + h9 % 900) || ' Main Street',
           'street_address2', '',
           'city', (ARRAY['Springfield', 'London', 'Berlin', 'Paris', 'São Paulo', 'Kraków', 'Toronto', 'Sydney'])[1 + h9 % 8],
           'state', '',
           'zipcode', lpad((h9 % 100000)::text, 5, '0'),
           'country', (ARRAY['US', 'GB', 'DE', 'FR', 'BR', 'PL', 'CA', 'AU'])[1 + h9 % 8],
           'phone_number', '+1555' || lpad((h9 % 10000000)::text, 7, '0')) AS customer
FROM generate_series(1, :n) i
CROSS JOIN LATERAL pg_temp.draws(i) h;

-- release::release_order: APPROVED, deadline = release + fulfillment_window_days (5); then
-- ship: SHIPPED, updated_at = ship time. A+ orders ship to the program's warehouse; the
-- customer's own address is kept in customer_shipping_detail (the release's fallback for a
-- non-A+ order is the shipping address itself).
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    is_wish_express, is_advanced_logistics, ship_name, ship_street_address1,
                    ship_street_address2, ship_city, ship_state, ship_zipcode, ship_country,
                    ship_phone_number, customer_shipping_detail, product_id, product_name, quantity,
                    created_at, updated_at)
SELECT p.order_id, p.merchant_id, 'SHIPPED', p.released, p.released, p.released + interval '5 days',
       false, p.aplus,
       CASE WHEN p.aplus THEN 'A+ warehouse' ELSE p.customer ->> 'name' END,
       CASE WHEN p.aplus THEN '88 Logistics Road' ELSE p.customer ->> 'street_address1' END,
       '',
       CASE WHEN p.aplus THEN 'Shenzhen' ELSE p.customer ->> 'city' END,
       '',
       CASE WHEN p.aplus THEN '518000' ELSE p.customer ->> 'zipcode' END,
       CASE WHEN p.aplus THEN 'CN' ELSE p.customer ->> 'country' END,
       CASE WHEN p.aplus THEN '+8675500000000' ELSE p.customer ->> 'phone_number' END,
       p.customer, 'p-' || (p.i % 50000), 'Mug', 1, p.released, p.shipped
FROM plan p
ORDER BY p.i;

-- ship: get_or_create the tracking (next_poll_at = now), then what the events left on it.
INSERT INTO trackings (id, merchant_id, carrier, tracking_number, status, carrier_status_code,
                       carrier_status_text, confirmed_fulfillment_at, delivered_at, cancelled_at,
                       cancelled_by, last_event_at, next_poll_at, poll_failures, created_at,
                       updated_at)
SELECT p.i, p.merchant_id, p.carrier, p.tracking_number,
       CASE WHEN p.cancelled IS NOT NULL THEN 'CANCELLED'
            WHEN p.delivered IS NOT NULL THEN 'DELIVERED' ELSE 'IN_TRANSIT' END,
       CASE WHEN p.cancelled IS NOT NULL THEN 'CANCELLED'
            WHEN p.delivered IS NOT NULL THEN '40' ELSE '20' END,
       CASE WHEN p.cancelled IS NOT NULL THEN 'cancelled by the ' || lower(p.cancelled_by)
            WHEN p.delivered IS NOT NULL THEN 'Delivered' ELSE 'In transit' END,
       p.scanned, p.delivered, p.cancelled, p.cancelled_by,
       coalesce(p.cancelled, p.delivered, p.scanned),
       CASE WHEN p.cancelled IS NULL AND p.delivered IS NULL THEN p.shipped END,
       0, p.shipped, coalesce(p.cancelled, p.delivered, p.scanned, p.shipped)
FROM plan p
ORDER BY p.i;
SELECT setval('trackings_id_seq', (SELECT max(id) FROM trackings)) AS trackings_last_id \gset

INSERT INTO tracking_events (tracking_id, event_key, source, actor, occurred_at, status,
                             carrier_status_code, carrier_status_text, location, raw_payload,
                             received_at)
SELECT e.*
FROM plan p
CROSS JOIN LATERAL (
    SELECT p.i, 'id:scan-' || p.tracking_number, 'PUSH', 'api:bench', p.scanned, 'IN_TRANSIT',
           '20', 'In transit', 'Shenzhen', '{}', p.scanned
    WHERE p.scanned IS NOT NULL
    UNION ALL
    SELECT p.i, 'id:delivered-' || p.tracking_number, 'PUSH', 'api:bench', p.delivered,
           'DELIVERED', '40', 'Delivered', p.customer ->> 'city', '{}', p.delivered
    WHERE p.delivered IS NOT NULL
    UNION ALL
    SELECT p.i, 'id:cancel', 'CANCEL', 'api:bench', p.cancelled, 'CANCELLED', 'CANCELLED',
           'cancelled by the ' || lower(p.cancelled_by), '', '', p.cancelled
    WHERE p.cancelled IS NOT NULL
) e (tracking_id, event_key, source, actor, occurred_at, status, carrier_status_code,
     carrier_status_text, location, raw_payload, received_at)
ORDER BY p.i, e.occurred_at;

INSERT INTO order_trackings (id, order_id, tracking_id, origin_country, channel, shipped_at,
                             shipped_late)
SELECT p.i, p.order_id, p.i, 'CN', 'API', p.shipped, false
FROM plan p
ORDER BY p.i;
SELECT setval('order_trackings_id_seq', (SELECT max(id) FROM order_trackings)) AS order_trackings_last_id \gset

-- The audit rows of the release (id 2i-1) and the ship (id 2i), and the ship's outbox row.
INSERT INTO order_events (id, order_id, merchant_id, actor, kind, state_before, state_after,
                          policy_version, details, occurred_at, recorded_at)
SELECT e.*
FROM plan p
CROSS JOIN LATERAL (
    SELECT 2 * p.i - 1, p.order_id, p.merchant_id, 'api:bench', 'released', NULL, 'APPROVED', 1,
           jsonb_build_object('released_at', pg_temp.rfc3339z(p.released),
                              'fulfillment_deadline', pg_temp.rfc3339z(p.released + interval '5 days'),
                              'rule', 'R1,R2'),
           p.released, p.released
    UNION ALL
    SELECT 2 * p.i, p.order_id, p.merchant_id, 'api:bench', 'shipped', 'APPROVED', 'SHIPPED', 1,
           jsonb_build_object('carrier', p.carrier, 'tracking_number', p.tracking_number,
                              'origin_country', 'CN', 'channel', 'API', 'resolved_from', NULL,
                              'shipped_late', false, 'combined_with', '[]'::jsonb,
                              'requirement', 'STANDARD', 'previous_tracking', NULL),
           p.shipped, p.shipped
) e
ORDER BY p.i, 1;
SELECT setval('order_events_id_seq', (SELECT max(id) FROM order_events)) AS order_events_last_id \gset

INSERT INTO outbox (id, event_id, event_type, merchant_id, order_id, payload, created_at)
SELECT p.i, 'customer.notified:' || (2 * p.i), 'customer.notified', p.merchant_id, p.order_id,
       jsonb_build_object('order_id', p.order_id, 'reason', 'shipped', 'carrier', p.carrier,
                          'tracking_number', p.tracking_number),
       p.shipped
FROM plan p
ORDER BY p.i;
SELECT setval('outbox_id_seq', (SELECT max(id) FROM outbox)) AS outbox_last_id \gset

COMMIT;

VACUUM ANALYZE;
CHECKPOINT;
