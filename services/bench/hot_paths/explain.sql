-- The plans of the hot paths' queries, as the service runs them: prepared, with the generic
-- plan a prepared statement settles on (plan_cache_mode = force_generic_plan), executed
-- (EXPLAIN ANALYZE) inside a transaction that is rolled back. psql -v merchant=<listed merchant>.
-- Uses an order and a tracking of the filler (seed_filler.sql) and the listed merchant's orders.
\pset pager off
SET plan_cache_mode = force_generic_plan;
BEGIN;
\echo '== FulfillOrder: the orders locked, the tracking created (lock_for_shipping.sql)'
-- The service's own statement texts (services/core/src/repo/sql/), read as they are: run from
-- the repository's root (growth.sh does).
\set lock_for_shipping `cat services/core/src/repo/sql/lock_for_shipping.sql`
\set record_shipment `cat services/core/src/repo/sql/record_shipment.sql`
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country,
                    customer_shipping_detail, quantity, created_at, updated_at)
VALUES ('explain-1', 'filler-1', 'APPROVED', now(), now(), now() + interval '5 days', 'R', '1 St',
        'C', '1', 'US', '{}', 1, now(), now());
PREPARE lock_for_shipping (text[], text, text, text, timestamptz, timestamptz, timestamptz) AS
  :lock_for_shipping;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
  EXECUTE lock_for_shipping (ARRAY['explain-1'], 'filler-1', 'usps', 'EXPLAIN1', now(), now(), now());
\echo '== FulfillOrder: R10, the orders on an existing tracking'
PREPARE on_tracking (bigint) AS
  SELECT orders.* FROM orders JOIN order_trackings ON order_trackings.order_id = orders.id
  WHERE order_trackings.tracking_id = $1 AND order_trackings.is_current ORDER BY orders.id;
SELECT id AS filler_tracking FROM trackings WHERE tracking_number = 'FILLER000000004242' \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE on_tracking (:filler_tracking);
\echo '== FulfillOrder: the write (link, state, audit, outbox; record_shipment.sql)'
PREPARE record_shipment (text[], bool[], text[], jsonb[], jsonb[], bigint, text, text, timestamptz,
                         text, text, text, text, int) AS
  :record_shipment;
SELECT id AS explain_tracking FROM trackings WHERE tracking_number = 'EXPLAIN1' \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
  EXECUTE record_shipment (ARRAY['explain-1'], ARRAY[false], ARRAY['APPROVED'], ARRAY['{}'::jsonb],
                           ARRAY['{}'::jsonb], :explain_tracking,
                           'CN', 'API', now(), 'SHIPPED', 'filler-1', 'api:explain', 'shipped', 1);
\echo '== GetOrder'
PREPARE get_order (text, text) AS
  SELECT * FROM orders WHERE merchant_id = $1 AND id = $2 LIMIT 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE get_order ('filler-242', 'filler-4242');
SELECT array_agg('filler-' || g)::text AS ids100 FROM generate_series(4000, 4099) AS g \gset
\echo '== GetOrder, BatchGetOrders, ListOrdersToFulfill: the orders'' trackings'
PREPARE links (text[]) AS
  SELECT order_trackings.*, trackings.* FROM order_trackings
  JOIN trackings ON trackings.id = order_trackings.tracking_id
  WHERE order_trackings.order_id = ANY ($1) ORDER BY order_trackings.id;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
  EXECUTE links (:'ids100');
\echo '== BatchGetOrders: the orders'
PREPARE batch_get (text[]) AS SELECT * FROM orders WHERE id = ANY ($1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
  EXECUTE batch_get (:'ids100');
\echo '== ListOrdersToFulfill: a page deep in the merchant''s orders'
PREPARE list_page (text, timestamptz, text, bigint) AS
  SELECT * FROM orders WHERE merchant_id = $1 AND state = 'APPROVED'
    AND fulfillment_deadline >= $2
    AND (fulfillment_deadline > $2 OR (fulfillment_deadline = $2 AND id > $3))
  ORDER BY fulfillment_deadline, id LIMIT $4;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
  EXECUTE list_page (:'merchant', timestamptz '2030-01-01 00:00:00+00' + 90000 * interval '1 minute',
                     'list-0090000', 101);
ROLLBACK;
