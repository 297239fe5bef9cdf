-- FulfillOrder's read (repo::orders::lock_for_shipping): the orders locked in id order, then
-- the tracking created or locked (R3, R10). Kept prepared by Diesel; also run as it is by the
-- benchmark (fulfillment-bench hot, explain.sql).
WITH o AS (
  SELECT * FROM orders WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
),
new AS (
  INSERT INTO trackings (merchant_id, carrier, tracking_number, next_poll_at,
                         created_at, updated_at)
  SELECT $2, $3, $4, $5, $6, $7
  WHERE (SELECT count(*) FILTER (WHERE merchant_id = $2) FROM o) > 0
  ON CONFLICT (carrier, tracking_number) DO NOTHING
  RETURNING *
),
old AS (
  SELECT * FROM trackings
  WHERE carrier = $3 AND tracking_number = $4 AND NOT EXISTS (SELECT 1 FROM new)
    AND (SELECT count(*) FILTER (WHERE merchant_id = $2) FROM o) > 0
  FOR UPDATE
),
t AS (
  SELECT *, true AS created FROM new UNION ALL SELECT *, false FROM old
)
SELECT o.*, t.id AS t_id, t.merchant_id AS t_merchant_id, t.carrier AS t_carrier,
       t.tracking_number AS t_tracking_number, t.status AS t_status,
       t.carrier_status_code AS t_carrier_status_code,
       t.carrier_status_text AS t_carrier_status_text,
       t.confirmed_fulfillment_at AS t_confirmed_fulfillment_at,
       t.delivered_at AS t_delivered_at, t.cancelled_at AS t_cancelled_at,
       t.cancelled_by AS t_cancelled_by, t.last_event_at AS t_last_event_at,
       t.next_poll_at AS t_next_poll_at, t.poll_failures AS t_poll_failures,
       t.created_at AS t_created_at, t.updated_at AS t_updated_at,
       t.created AS t_created
FROM o LEFT JOIN t ON true
ORDER BY o.id
