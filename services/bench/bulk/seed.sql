-- Orders for the spreadsheet benchmark, as ReleaseOrder and FulfillOrder leave them:
--   :export_orders orders of `m-export` (CN, so the four R17 columns are written), every
--     second one shipped with a USPS tracking;
--   :upload_orders APPROVED orders `up-<i>` of `m-upload`, for the CSV upload.
-- Usage: psql -v export_orders=1000000 -v upload_orders=50000 -f seed.sql DB
\set ON_ERROR_STOP on
INSERT INTO merchants (id, name, country) VALUES
    ('m-export', 'Export bench', 'CN'),
    ('m-upload', 'Upload bench', 'US');

INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    ship_name, ship_street_address1, ship_street_address2, ship_city, ship_state,
                    ship_zipcode, ship_country, ship_phone_number, customer_shipping_detail,
                    product_id, product_name, quantity)
SELECT 'ex-' || i, 'm-export', CASE WHEN i % 2 = 0 THEN 'SHIPPED' ELSE 'APPROVED' END,
       now() - (i % 96) * interval '1 hour', now() - (i % 96) * interval '1 hour',
       now() - (i % 96) * interval '1 hour' + interval '5 days',
       'Recipient ' || i, i || ' Long Street Name Avenue', 'Apartment ' || (i % 500), 'Springfield', 'IL',
       lpad((i % 99999)::text, 5, '0'), 'US', '+1 555 ' || lpad((i % 10000)::text, 4, '0'),
       jsonb_build_object('name', 'Recipient ' || i, 'street_address1', i || ' Long Street Name Avenue',
                          'city', 'Springfield', 'zipcode', lpad((i % 99999)::text, 5, '0'), 'country', 'US'),
       'p-' || (i % 5000), 'Product number ' || (i % 5000) || ', blue, size M', 1 + i % 3
FROM generate_series(1, :export_orders) AS i;

INSERT INTO trackings (merchant_id, carrier, tracking_number, status, next_poll_at)
SELECT 'm-export', 'usps', 'EXP' || lpad(i::text, 19, '0'), 'IN_TRANSIT', NULL
FROM generate_series(2, :export_orders, 2) AS i;

INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel, shipped_at, shipped_late)
SELECT 'ex-' || ltrim(substr(t.tracking_number, 4), '0'), t.id, 'CN', 'API', now(), false
FROM trackings t WHERE t.merchant_id = 'm-export';

INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country,
                    customer_shipping_detail)
SELECT 'up-' || i, 'm-upload', 'APPROVED', now() - interval '1 day', now() - interval '1 day',
       now() + interval '4 days', 'Recipient ' || i, i || ' Bench St', 'Springfield', '62701', 'US',
       jsonb_build_object('name', 'Recipient ' || i)
FROM generate_series(1, :upload_orders) AS i;

ANALYZE;
