-- The reconciliation pipeline (cancellation-detector, re-release-decider, aplus-reset: R15-R18)
-- as hand-written set-based SQL: one statement per step, in one transaction. Same queues, same
-- decisions (the policy version in force now, read from `policies` as the workers do), same
-- writes: order state and columns, order_trackings columns, one order_events row per decision
-- (actor worker:<step>, policy version, the decision's inputs and explanation, word for word)
-- and the outbox rows with the same event ids and payloads. It is the benchmark's baseline
-- (services/bench/pipeline/run.sh) and must leave the same end state as the three binaries.
-- Not done here: worker_runs rows (bookkeeping of the binaries, not the orders' state).
-- The decision logic mirrors fulfillment_policy::cancellation::decide_cancellation.
\set ON_ERROR_STOP 1
SET TIME ZONE 'UTC';

-- chrono's serde form of a DateTime<Utc> (json!() in the workers): 2021-03-04T10:00:00Z, with
-- .mmm or .uuuuuu only when the fraction is not zero.
CREATE FUNCTION pg_temp.rfc3339z(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
               WHEN extract(microseconds FROM ts)::bigint % 1000000 = 0 THEN ''
               WHEN extract(microseconds FROM ts)::bigint % 1000 = 0
                   THEN '.' || to_char(ts AT TIME ZONE 'UTC', 'MS')
               ELSE '.' || to_char(ts AT TIME ZONE 'UTC', 'US')
           END
        || 'Z'
$$;

-- chrono's to_rfc3339() (in the explanations): 2020-11-10T00:00:00+00:00.
CREATE FUNCTION pg_temp.rfc3339(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
               WHEN extract(microseconds FROM ts)::bigint % 1000000 = 0 THEN ''
               WHEN extract(microseconds FROM ts)::bigint % 1000 = 0
                   THEN '.' || to_char(ts AT TIME ZONE 'UTC', 'MS')
               ELSE '.' || to_char(ts AT TIME ZONE 'UTC', 'US')
           END
        || '+00:00'
$$;

-- An address as serde writes fulfillment_core::models::Address (every field, '' by default).
CREATE FUNCTION pg_temp.address(a jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'name', coalesce(a ->> 'name', ''),
        'street_address1', coalesce(a ->> 'street_address1', ''),
        'street_address2', coalesce(a ->> 'street_address2', ''),
        'city', coalesce(a ->> 'city', ''),
        'state', coalesce(a ->> 'state', ''),
        'zipcode', coalesce(a ->> 'zipcode', ''),
        'country', coalesce(a ->> 'country', ''),
        'phone_number', coalesce(a ->> 'phone_number', ''))
$$;

-- Every cancelled tracking link with decide_cancellation's answer for it, for the state the
-- deciding step passes (the order's; APPROVED for a link replaced since detection, as the
-- decider does). `outcome` is the policy's; the decider overrides it for replaced links.
CREATE TEMP VIEW cancellation_decisions AS
SELECT l.*,
       d.outcome,
       d.outcome <> 'NOT_APPLICABLE' AS flagged,
       d.outcome = 'RE_RELEASE' AND l.is_advanced_logistics AND l.cancelled_by = 'CARRIER'
           AS aplus_leaves,
       jsonb_build_object(
           'carrier', l.carrier,
           'tracking_number', l.tracking_number,
           'cancelled_at', pg_temp.rfc3339z(l.cancelled_at),
           'cancelled_by', l.cancelled_by,
           'initial_released_at', pg_temp.rfc3339z(l.initial_released_at),
           'merchant_country', l.merchant_country,
           'days_since_initial_release', l.days,
           'threshold_days', l.threshold,
           'outcome', d.outcome,
           'explanation', CASE
               WHEN lower(l.carrier) <> 'wishpost' THEN
                   'R15: only WishPost cancellations are handled; this tracking is "' || l.carrier || '"'
               WHEN l.decided_state <> 'SHIPPED' THEN
                   'R15: the order is ' || l.decided_state || ', not SHIPPED'
               WHEN l.initial_released_at < l.confirmed_removal_from THEN
                   'R15: released before ' || pg_temp.rfc3339(l.confirmed_removal_from)
                       || '; the confirmed date stays'
               WHEN l.confirmed_fulfillment_at IS NULL THEN
                   'R15: the tracking has no confirmed fulfillment date to remove; repair it with modify-tracking (R4)'
               WHEN d.outcome = 'FLAG_ONLY' THEN
                   'R15: confirmed date removed and tracking flagged cancelled; R16: '
                       || CASE WHEN l.eligible_country
                               THEN 'cancelled before re-release started ('
                                    || pg_temp.rfc3339(l.rerelease_from) || ')'
                               ELSE 'merchant country ' || l.merchant_country
                                    || ' is not eligible for re-release' END
                       || ', so the merchant repairs the order with modify-tracking (R4)'
               WHEN d.outcome = 'REFUND' THEN
                   'R16: cancelled ' || l.days || ' calendar days after the initial release (>= '
                       || l.threshold || '): auto-refund, reason TRACKING_CANCELLED_LATE'
               ELSE
                   'R16: cancelled ' || l.days || ' calendar days after the initial release (< '
                       || l.threshold || '): re-released with a new ' || l.rerelease_deadline_days
                       || '-day deadline; a new tracking number is required'
                       || CASE
                              WHEN l.is_advanced_logistics AND l.cancelled_by = 'CARRIER' THEN
                                  '; R18: the partner carrier cancelled, so the A+ order leaves the program and ships to the customer''s own address'
                              WHEN l.is_advanced_logistics THEN
                                  '; R18: the merchant cancelled, so the order stays in the A+ program'
                              ELSE '' END
           END) AS inputs
FROM (
    SELECT ot.id AS link_id, ot.is_current, ot.cancellation_detected_at,
           ot.cancellation_decided_at, ot.cancellation_outcome, ot.aplus_reset_at,
           o.id AS order_id, o.merchant_id, o.state, o.initial_released_at,
           o.is_advanced_logistics, m.country AS merchant_country, t.carrier, t.tracking_number,
           t.confirmed_fulfillment_at, t.cancelled_at,
           -- reconcile.rs cancelled_by(): anything but MERCHANT is the carrier.
           CASE WHEN t.cancelled_by = 'MERCHANT' THEN 'MERCHANT' ELSE 'CARRIER' END AS cancelled_by,
           CASE WHEN ot.is_current THEN o.state ELSE 'APPROVED' END AS decided_state,
           (t.cancelled_at AT TIME ZONE 'UTC')::date - (o.initial_released_at AT TIME ZONE 'UTC')::date
               AS days,
           p.version AS policy_version, p.rerelease_window_days AS threshold,
           p.rerelease_deadline_days, p.confirmed_removal_from, p.rerelease_from,
           EXISTS (SELECT 1 FROM unnest(p.rerelease_countries) c WHERE lower(c) = lower(m.country))
               AS eligible_country
    FROM order_trackings ot
    JOIN trackings t ON t.id = ot.tracking_id
    JOIN orders o ON o.id = ot.order_id
    JOIN merchants m ON m.id = o.merchant_id
    CROSS JOIN (SELECT * FROM policies WHERE effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1) p
    WHERE t.cancelled_at IS NOT NULL
) l
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN lower(l.carrier) <> 'wishpost' OR l.decided_state <> 'SHIPPED'
                    OR l.initial_released_at < l.confirmed_removal_from
                    OR l.confirmed_fulfillment_at IS NULL THEN 'NOT_APPLICABLE'
               WHEN NOT l.eligible_country OR l.cancelled_at < l.rerelease_from THEN 'FLAG_ONLY'
               WHEN l.days >= l.threshold THEN 'REFUND'
               ELSE 'RE_RELEASE'
           END AS outcome
) d;

BEGIN;

-- cancellation-detector (R15): flag and date on the order, confirmed date removed for this
-- link, NOT_APPLICABLE decided at once; one audit row each.
WITH c AS MATERIALIZED (
    SELECT * FROM cancellation_decisions
    WHERE is_current AND cancellation_detected_at IS NULL
), flag_orders AS (
    UPDATE orders o
    SET tracking_number_cancelled = true, tracking_number_cancelled_date = c.cancelled_at,
        updated_at = now()
    FROM c
    WHERE o.id = c.order_id AND c.flagged
), links AS (
    UPDATE order_trackings ot
    SET cancellation_detected_at = now(),
        confirmed_removed_at = CASE WHEN c.flagged THEN now() ELSE ot.confirmed_removed_at END,
        cancellation_decided_at = CASE WHEN c.outcome = 'NOT_APPLICABLE' THEN now()
                                       ELSE ot.cancellation_decided_at END,
        cancellation_outcome = CASE WHEN c.outcome = 'NOT_APPLICABLE' THEN 'NOT_APPLICABLE'
                                    ELSE ot.cancellation_outcome END
    FROM c
    WHERE ot.id = c.link_id
)
INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after,
                          policy_version, details, occurred_at)
SELECT c.order_id, c.merchant_id, 'worker:cancellation-detector',
       CASE WHEN c.flagged THEN 'tracking_cancelled' ELSE 'tracking_cancelled_not_applicable' END,
       c.state, c.state, c.policy_version,
       c.inputs || jsonb_build_object('rule', 'R15', 'confirmed_removed', c.flagged), now()
FROM c
ORDER BY c.link_id;

-- re-release-decider (R16, R17): RE_RELEASE back to APPROVED with a new deadline, the flag, the
-- link retired, outbox order.re_released; REFUND refunded TRACKING_CANCELLED_LATE, outbox
-- refund.requested; FLAG_ONLY nothing more; a link replaced since detection NOT_APPLICABLE.
WITH c AS MATERIALIZED (
    SELECT d.*, CASE WHEN d.is_current THEN d.outcome ELSE 'NOT_APPLICABLE' END AS decided
    FROM cancellation_decisions d
    WHERE d.cancellation_detected_at IS NOT NULL AND d.cancellation_decided_at IS NULL
), re_released AS (
    UPDATE orders o
    SET state = 'APPROVED', released_at = now(),
        fulfillment_deadline = now() + c.rerelease_deadline_days * interval '1 day',
        is_re_released = true, order_re_released_date = now(),
        flags = ARRAY(SELECT DISTINCT unnest(o.flags || CASE WHEN c.aplus_leaves THEN '{}'::text[]
                                                              ELSE '{TRACKING_NUMBER_CANCELLED}'::text[] END)),
        updated_at = now()
    FROM c
    WHERE o.id = c.order_id AND c.decided = 'RE_RELEASE'
), refunded AS (
    UPDATE orders o
    SET state = 'REFUNDED', refund_reason = 'TRACKING_CANCELLED_LATE', refunded_at = now(),
        updated_at = now()
    FROM c
    WHERE o.id = c.order_id AND c.decided = 'REFUND'
), links AS (
    UPDATE order_trackings ot
    SET is_current = CASE WHEN c.decided = 'RE_RELEASE' THEN false ELSE ot.is_current END,
        replaced_at = CASE WHEN c.decided = 'RE_RELEASE' THEN now() ELSE ot.replaced_at END,
        cancellation_decided_at = now(), cancellation_outcome = c.decided
    FROM c
    WHERE ot.id = c.link_id
), outbox_rows AS (
    INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at)
    SELECT CASE WHEN c.decided = 'RE_RELEASE'
                THEN 'order.re_released:' || c.order_id || ':' || c.link_id
                ELSE 'refund.requested:' || c.order_id END,
           CASE WHEN c.decided = 'RE_RELEASE' THEN 'order.re_released' ELSE 'refund.requested' END,
           c.merchant_id, c.order_id,
           CASE WHEN c.decided = 'RE_RELEASE'
                THEN jsonb_build_object('order_id', c.order_id,
                                        'cancelled_tracking_number', c.tracking_number,
                                        'new_deadline', pg_temp.rfc3339z(now() + c.rerelease_deadline_days * interval '1 day'))
                ELSE jsonb_build_object('order_id', c.order_id, 'reason', 'TRACKING_CANCELLED_LATE') END,
           now()
    FROM c
    WHERE c.decided IN ('RE_RELEASE', 'REFUND')
    ORDER BY c.link_id
    ON CONFLICT (event_id) DO NOTHING
)
INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after,
                          policy_version, details, occurred_at)
SELECT c.order_id, c.merchant_id, 'worker:re-release-decider',
       CASE c.decided WHEN 'RE_RELEASE' THEN 're_released' WHEN 'REFUND' THEN 'refunded'
                      WHEN 'FLAG_ONLY' THEN 'cancellation_flag_only'
                      ELSE 'cancellation_not_applicable' END,
       c.state,
       CASE c.decided WHEN 'RE_RELEASE' THEN 'APPROVED' WHEN 'REFUND' THEN 'REFUNDED'
                      ELSE c.state END,
       c.policy_version,
       c.inputs || jsonb_build_object('rule', 'R16', 'outcome', c.decided), now()
FROM c
ORDER BY c.link_id;

-- aplus-reset (R18): re-released A+ orders whose tracking the carrier cancelled leave the
-- program: flag, shipping detail = the customer's own address, outbox merchant.notified.
WITH c AS MATERIALIZED (
    SELECT ot.id AS link_id, o.id AS order_id, o.merchant_id, o.state,
           pg_temp.address(jsonb_build_object(
               'name', o.ship_name, 'street_address1', o.ship_street_address1,
               'street_address2', o.ship_street_address2, 'city', o.ship_city,
               'state', o.ship_state, 'zipcode', o.ship_zipcode, 'country', o.ship_country,
               'phone_number', o.ship_phone_number)) AS ship_from,
           pg_temp.address(o.customer_shipping_detail) AS ship_to,
           p.version AS policy_version
    FROM order_trackings ot
    JOIN trackings t ON t.id = ot.tracking_id
    JOIN orders o ON o.id = ot.order_id
    CROSS JOIN (SELECT version FROM policies WHERE effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1) p
    WHERE t.cancelled_at IS NOT NULL
      AND ot.cancellation_outcome = 'RE_RELEASE' AND ot.aplus_reset_at IS NULL
      AND o.is_advanced_logistics AND t.cancelled_by = 'CARRIER'
), reset AS (
    UPDATE orders o
    SET is_advanced_logistics = false,
        flags = ARRAY(SELECT DISTINCT unnest(o.flags || ARRAY['APLUS_TRACKING_NUMBER_CANCELLED'])),
        ship_name = c.ship_to ->> 'name', ship_street_address1 = c.ship_to ->> 'street_address1',
        ship_street_address2 = c.ship_to ->> 'street_address2', ship_city = c.ship_to ->> 'city',
        ship_state = c.ship_to ->> 'state', ship_zipcode = c.ship_to ->> 'zipcode',
        ship_country = c.ship_to ->> 'country', ship_phone_number = c.ship_to ->> 'phone_number',
        updated_at = now()
    FROM c
    WHERE o.id = c.order_id
), links AS (
    UPDATE order_trackings ot SET aplus_reset_at = now() FROM c WHERE ot.id = c.link_id
), events AS (
    INSERT INTO order_events (order_id, merchant_id, actor, kind, state_before, state_after,
                              policy_version, details, occurred_at)
    SELECT c.order_id, c.merchant_id, 'worker:aplus-reset', 'aplus_left_program', c.state, c.state,
           c.policy_version,
           jsonb_build_object('rule', 'R18', 'cancelled_by', 'CARRIER',
                              'flag', 'APLUS_TRACKING_NUMBER_CANCELLED',
                              'shipping_detail_before', c.ship_from,
                              'shipping_detail_after', c.ship_to),
           now()
    FROM c
    ORDER BY c.link_id
)
INSERT INTO outbox (event_id, event_type, merchant_id, order_id, payload, created_at)
SELECT 'merchant.notified:aplus_left_program:' || c.order_id || ':' || c.link_id,
       'merchant.notified', c.merchant_id, c.order_id,
       jsonb_build_object('order_id', c.order_id, 'reason', 'aplus_left_program',
                          'ship_to_country', c.ship_to ->> 'country'),
       now()
FROM c
ORDER BY c.link_id
ON CONFLICT (event_id) DO NOTHING;

COMMIT;
