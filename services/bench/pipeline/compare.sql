-- The end state of the reconciliation pipeline, as lines `what|count-or-checksum`, for
-- run.sh to diff between the pipeline's copy and the set-based copy. "Now" differs between the
-- two runs (the binaries read the system clock per batch, the script uses its transaction's
-- now()), so timestamps the steps set to "now" are compared by presence and by their relations
-- (released_at = order_re_released_date, deadline = re-release + 5 days, ...), everything else
-- by value. Checksums are order-independent sums of hashtextextended over each row's text.
\set ON_ERROR_STOP 1
SET TIME ZONE 'UTC';
\pset format unaligned
\pset tuples_only on
\pset footer off

-- Every timestamp the seed writes is before 2023; a later one was set by a step ("now").
\set stamped '''2023-01-01T00:00:00Z'''

SELECT 'orders state=' || state || ' re_released=' || is_re_released
       || ' tracking_cancelled=' || tracking_number_cancelled || ' aplus=' || is_advanced_logistics
       || ' flags=' || flags::text || ' refund=' || coalesce(refund_reason, '-')
       || ' touched=' || (updated_at >= :stamped), count(*)
FROM orders GROUP BY 1 ORDER BY 1;

SELECT 'order_trackings current=' || is_current || ' replaced=' || (replaced_at IS NOT NULL)
       || ' detected=' || (cancellation_detected_at IS NOT NULL)
       || ' confirmed_removed=' || (confirmed_removed_at IS NOT NULL)
       || ' decided=' || (cancellation_decided_at IS NOT NULL)
       || ' outcome=' || coalesce(cancellation_outcome, '-')
       || ' aplus_reset=' || (aplus_reset_at IS NOT NULL)
       || ' aplus_leaves=' || coalesce(aplus_leaves::text, '-'), count(*)
FROM order_trackings GROUP BY 1 ORDER BY 1;

SELECT 'order_events kind=' || kind || ' actor=' || actor || ' ' || coalesce(state_before, '-')
       || '->' || state_after || ' policy=' || coalesce(policy_version::text, '-'), count(*)
FROM order_events GROUP BY 1 ORDER BY 1;

SELECT 'outbox type=' || event_type, count(*) FROM outbox GROUP BY 1 ORDER BY 1;

SELECT 'checksum orders (id, state, re-release, cancellation, flags, refund, address, A+)',
       count(*) || ':' || sum(hashtextextended(concat_ws('|',
           id, merchant_id, state, initial_released_at,
           CASE WHEN is_re_released THEN 're-released' ELSE released_at::text END,
           CASE WHEN is_re_released THEN (fulfillment_deadline - released_at)::text
                ELSE fulfillment_deadline::text END,
           is_re_released, order_re_released_date IS NOT NULL,
           released_at = order_re_released_date,
           tracking_number_cancelled, tracking_number_cancelled_date, flags::text,
           refund_reason, refunded_at IS NOT NULL, refunded_at >= :stamped,
           is_advanced_logistics, ship_name, ship_street_address1, ship_street_address2,
           ship_city, ship_state, ship_zipcode, ship_country, ship_phone_number,
           customer_shipping_detail::text, updated_at >= :stamped), 0))
FROM orders;

SELECT 'checksum order_trackings (link, steps, outcome)',
       count(*) || ':' || sum(hashtextextended(concat_ws('|',
           id, order_id, tracking_id, is_current, replaced_at IS NOT NULL,
           cancellation_detected_at IS NOT NULL, confirmed_removed_at IS NOT NULL,
           confirmed_removed_at = cancellation_detected_at,
           cancellation_decided_at IS NOT NULL, cancellation_outcome,
           aplus_reset_at IS NOT NULL, aplus_reset_at = cancellation_decided_at, aplus_leaves), 0))
FROM order_trackings;

SELECT 'checksum order_events (order, actor, kind, states, policy, details without new_deadline)',
       count(*) || ':' || sum(hashtextextended(concat_ws('|',
           order_id, merchant_id, actor, kind, state_before, state_after, policy_version,
           (details - 'new_deadline')::text,
           CASE WHEN occurred_at >= :stamped THEN 'now' ELSE occurred_at::text END), 0))
FROM order_events;

SELECT 'checksum outbox (event id, type, order, payload without new_deadline)',
       count(*) || ':' || sum(hashtextextended(concat_ws('|',
           event_id, event_type, merchant_id, order_id, (payload - 'new_deadline')::text,
           CASE WHEN created_at >= :stamped THEN 'now' ELSE created_at::text END), 0))
FROM outbox;

-- The "now" relations, which the checksums cannot compare by value.
SELECT 're_released audit rows whose new_deadline is not the order''s deadline',
       count(*) FILTER (WHERE (e.details ->> 'new_deadline')::timestamptz <> o.fulfillment_deadline)
FROM order_events e JOIN orders o ON o.id = e.order_id WHERE e.kind = 're_released';
SELECT 're-released orders whose deadline is not re-release + 5 days',
       count(*) FILTER (WHERE fulfillment_deadline <> order_re_released_date + interval '5 days')
FROM orders WHERE is_re_released;
SELECT 'order.re_released rows whose new_deadline is not created_at + 5 days (+-1 ms)',
       count(*) FILTER (WHERE abs(extract(epoch FROM (payload ->> 'new_deadline')::timestamptz
                                           - (created_at + interval '5 days'))) > 0.001)
FROM outbox WHERE event_type = 'order.re_released';
