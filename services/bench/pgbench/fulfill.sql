-- The statements one FulfillOrder transaction runs (services/fulfillment/src/ship.rs), for
-- pgbench. Each transaction first inserts the order it ships (extra work the service does in
-- ReleaseOrder, outside the measured call), since pgbench has no per-client counter.
\set n random(1, 9000000000000000000)
BEGIN;
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline, ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country, customer_shipping_detail, created_at, updated_at) VALUES ('pg-' || :n, 'pgbench', 'APPROVED', now(), now(), now() + interval '5 days', 'Recipient', '1 Bench St', 'Springfield', '62701', 'US', '{}', now(), now());
SELECT * FROM orders WHERE merchant_id = 'pgbench' AND id IN ('pg-' || :n) ORDER BY id FOR UPDATE;
INSERT INTO trackings (merchant_id, carrier, tracking_number, next_poll_at, created_at, updated_at) VALUES ('pgbench', 'usps', 'PG' || :n, now(), now(), now()) ON CONFLICT (carrier, tracking_number) DO NOTHING RETURNING *;
SELECT orders.* FROM orders JOIN order_trackings ON order_trackings.order_id = orders.id JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE trackings.carrier = 'usps' AND trackings.tracking_number = 'PG' || :n AND order_trackings.is_current ORDER BY orders.id;
INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late) SELECT 'pg-' || :n, id, 'CN', 'API', now(), false FROM trackings WHERE carrier = 'usps' AND tracking_number = 'PG' || :n RETURNING *;
UPDATE orders SET state = 'SHIPPED', updated_at = now() WHERE id = 'pg-' || :n;
INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after, policy_version, details, occurred_at) VALUES ('pg-' || :n, 'pgbench', 'api:pgbench', 'shipped', 'APPROVED', 'SHIPPED', 1, '{"carrier":"usps"}', now()) RETURNING id;
INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at) VALUES ('customer.notified:pg-' || :n, 'customer.notified', 'pgbench', 'pg-' || :n, '{"carrier":"usps"}', now()) ON CONFLICT (event_id) DO NOTHING;
SELECT * FROM order_trackings JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE order_trackings.order_id IN ('pg-' || :n) ORDER BY order_trackings.id;
END;
