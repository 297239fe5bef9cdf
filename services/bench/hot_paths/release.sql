-- Run with -M prepared (as fulfillment-bench hot does). The statements one ReleaseOrder runs (services/fulfillment/src/release.rs), for pgbench:
-- the merchant check, the order's insert, its audit row and the view's read of its (no)
-- trackings, in one transaction. -D merchant=<id> names an existing merchant.
\set n random(1, 9000000000000000000)
BEGIN;
SELECT * FROM merchants WHERE id = :merchant;
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline, is_wish_express, is_advanced_logistics, ship_name, ship_street_address1, ship_street_address2, ship_city, ship_state, ship_zipcode, ship_country, ship_phone_number, customer_shipping_detail, product_id, product_name, quantity, created_at, updated_at) VALUES ('pgr-' || :n, :merchant, 'APPROVED', now(), now(), now() + interval '5 days', false, false, 'Recipient ' || :n, :n || ' Bench St', '', 'Springfield', '', '62701', 'US', '', '{"name": "Recipient", "street_address1": "1 Bench St", "street_address2": "", "city": "Springfield", "state": "", "zipcode": "62701", "country": "US", "phone_number": ""}', '', '', 1, now(), now()) ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after, policy_version, details, occurred_at) VALUES ('pgr-' || :n, :merchant, 'api' || chr(58) || 'pgbench', 'released', NULL, 'APPROVED', 1, jsonb_build_object('released_at', now(), 'fulfillment_deadline', now() + interval '5 days', 'rule', 'R1,R2'), now()) RETURNING id;
SELECT order_trackings.*, trackings.* FROM order_trackings JOIN trackings ON trackings.id = order_trackings.tracking_id WHERE order_trackings.order_id = ANY (ARRAY['pgr-' || :n]) ORDER BY order_trackings.id;
END;
