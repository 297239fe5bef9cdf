-- FulfillOrder's write (repo::orders::record_shipment): each order's link, its new state, its
-- audit row and its customer.notified outbox row (R9), in one statement. Kept prepared by
-- Diesel; also run as it is by the benchmark (fulfillment-bench hot, explain.sql).
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::bool[], $3::text[], $4::jsonb[], $5::jsonb[])
    WITH ORDINALITY AS i (order_id, shipped_late, state_before, details, payload, n)
),
link AS (
  INSERT INTO order_trackings (order_id, tracking_id, origin_country, channel,
                               shipped_at, shipped_late)
  SELECT order_id, $6, $7, $8, $9, shipped_late FROM input ORDER BY n
  RETURNING *
),
moved AS (
  UPDATE orders o SET state = $10, updated_at = $9
  FROM input WHERE $10 IS NOT NULL AND o.id = input.order_id
),
event AS (
  INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before,
                            state_after, policy_version, details, occurred_at)
  SELECT order_id, $11, $12, $13, state_before, coalesce($10, state_before), $14,
         details, $9
  FROM input ORDER BY n
  RETURNING id, order_id
),
notified AS (
  INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at)
  SELECT 'customer.notified:' || event.id, 'customer.notified', $11, event.order_id,
         input.payload, $9
  FROM event JOIN input USING (order_id) ORDER BY event.id
  ON CONFLICT (event_id) DO NOTHING
)
SELECT link.*, (SELECT true FROM order_trackings h
                WHERE h.order_id = link.order_id LIMIT 1) IS NOT NULL AS has_history
FROM link
