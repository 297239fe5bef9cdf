-- The reads of one ListOrdersToFulfill page (services/fulfillment/src/queries.rs) at a random
-- place in the seeded merchant's orders (seed_list.sql: order k is 'list-' || lpad(k, 7, '0'),
-- due 2030-01-01 + k minutes): the merchant check, the page after the keyset, the page's
-- trackings (-D merchant=<id> -D n=<orders> -D page=<page size>).
\set k random(0, :n - :page - 1)
BEGIN;
SELECT * FROM merchants WHERE id = :merchant;
SELECT * FROM orders WHERE merchant_id = :merchant AND state = 'APPROVED' AND fulfillment_deadline >= timestamptz '2030-01-01 00:00:00+00' + :k::int * interval '1 minute' AND (fulfillment_deadline > timestamptz '2030-01-01 00:00:00+00' + :k::int * interval '1 minute' OR (fulfillment_deadline = timestamptz '2030-01-01 00:00:00+00' + :k::int * interval '1 minute' AND id > 'list-' || lpad(:k::int::text, 7, '0'))) ORDER BY fulfillment_deadline, id LIMIT :page::int + 1;
SELECT order_trackings.*, trackings.* FROM order_trackings JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE order_trackings.order_id = ANY (ARRAY(SELECT 'list-' || lpad(g::text, 7, '0') FROM generate_series(:k::int + 1, :k::int + :page::int) g)) ORDER BY order_trackings.id;
END;
