-- A merchant with :n APPROVED orders to fulfil (psql -v n=100000 -v merchant=list-100k
-- -v prefix=list-), set based. Order k is :prefix || lpad(k, 7, '0'), due 2030-01-01 + k minutes
-- (list.sql computes a page's keyset from k). Also the orders FulfillOrder's own SQL ships in
-- pgbench (src/fulfill_sql.rs), of an existing merchant.
INSERT INTO merchants (id, name, country, created_at, updated_at)
VALUES (:'merchant', 'ListOrdersToFulfill benchmark', 'US', now(), now())
ON CONFLICT DO NOTHING;
INSERT INTO orders (id, merchant_id, state, initial_released_at, released_at, fulfillment_deadline,
                    ship_name, ship_street_address1, ship_city, ship_zipcode, ship_country,
                    customer_shipping_detail, quantity, created_at, updated_at)
SELECT :'prefix' || lpad(k::text, 7, '0'), :'merchant', 'APPROVED', now(), now(),
       timestamptz '2030-01-01 00:00:00+00' + k * interval '1 minute',
       'Recipient ' || k, k || ' Bench St', 'Springfield', '62701', 'US', '{}', 1, now(), now()
FROM generate_series(0, :n - 1) AS k;
ANALYZE orders;
