-- :n orders of other merchants, already shipped, each with its own tracking, link, audit rows
-- and outbox row (psql -v n=5000000 -v from=0): the bulk a production table carries, so the
-- hot paths' cost can be compared at two table sizes. Set based; 2,000 merchants.
INSERT INTO merchants (id, name, country, created_at, updated_at)
SELECT 'filler-' || m, 'Filler ' || m, 'CN', now(), now() FROM generate_series(0, 1999) AS m
ON CONFLICT DO NOTHING;
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country,
                    customer_shipping_detail, quantity, created_at, updated_at)
SELECT 'filler-' || k, 'filler-' || (k % 2000), 'SHIPPED', t, t, t + interval '5 days',
       'Recipient ' || k, k || ' Filler St', 'Shenzhen', '518000', 'CN', '{}', 1, t, t
FROM generate_series(:from, :from + :n - 1) AS k,
     LATERAL (SELECT timestamptz '2025-01-01 00:00:00+00' + k * interval '5 seconds' AS t) AS at;
INSERT INTO trackings (merchant_id, carrier, tracking_number, status, next_poll_at, created_at, updated_at)
SELECT 'filler-' || (k % 2000), 'usps', 'FILLER' || lpad(k::text, 12, '0'), 'DELIVERED', NULL, now(), now()
FROM generate_series(:from, :from + :n - 1) AS k;
INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late)
SELECT 'filler-' || substr(t.tracking_number, 7)::bigint, t.id, 'CN', 'API', t.created_at, false
FROM trackings t
WHERE t.tracking_number LIKE 'FILLER%'
  AND substr(t.tracking_number, 7)::bigint BETWEEN :from AND :from + :n - 1;
INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after, policy_version, details, occurred_at)
SELECT 'filler-' || k, 'filler-' || (k % 2000), 'api:filler', e.kind, e.before, e.after, 1, '{}', now()
FROM generate_series(:from, :from + :n - 1) AS k,
     (VALUES ('released', NULL, 'APPROVED'), ('shipped', 'APPROVED', 'SHIPPED')) AS e (kind, before, after);
INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at)
SELECT 'filler:' || k, 'customer.notified', 'filler-' || (k % 2000), 'filler-' || k, '{}', now()
FROM generate_series(:from, :from + :n - 1) AS k;
VACUUM ANALYZE;
