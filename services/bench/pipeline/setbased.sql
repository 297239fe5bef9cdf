-- The reconciliation pipeline (cancellation-detector, re-release-decider, aplus-reset: R15-R18)
-- as hand-written set-based SQL: one statement per step, in one transaction. Same queues, same
-- decisions (the policy version in force now, read from `policies` as the workers do), same
-- writes: order state and columns, order_trackings columns, one order_events row per decision
-- (actor worker:<step>, policy version, the decision's inputs and explanation, word for word)
-- and the outbox rows with the same event ids and payloads. It is the benchmark's baseline
-- (services/bench/pipeline/run.sh) and must leave the same end state as the three binaries.
-- Not done here: worker_runs rows (bookkeeping of the binaries, not the orders' state).
-- The decision logic mirrors fulfillment_policy::cancellation::decide_cancellation. The A+ part
-- of a re-release (R18) is written in the re-release's own statement, as re-release-decider
-- does; aplus-reset's queue (re-releases decided without it) is then empty, so it has no
-- statement here.
\set ON_ERROR_STOP 1
SET TIME ZONE 'UTC';

\ir rfc3339.sql

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

-- Every cancelled tracking link with decide_cancellation's answer for it (a link replaced
-- since detection is NOT_APPLICABLE, R4).
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
               WHEN NOT l.is_current THEN
                   'R4: the cancelled tracking was replaced with modify-tracking since; nothing to decide'
               WHEN l.state <> 'SHIPPED' THEN
                   'R15: the order is ' || l.state || ', not SHIPPED'
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
    SELECT ot.id AS link_id, ot.tracking_id, ot.is_current, ot.cancellation_detected_at,
           ot.cancellation_decided_at, ot.cancellation_outcome, ot.aplus_reset_at,
           o.id AS order_id, o.merchant_id, o.state, o.initial_released_at,
           o.is_advanced_logistics, m.country AS merchant_country, t.carrier, t.tracking_number,
           t.confirmed_fulfillment_at, t.cancelled_at,
           t.cancelled_by,
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
               WHEN lower(l.carrier) <> 'wishpost' OR NOT l.is_current OR l.state <> 'SHIPPED'
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
), detected_trackings AS (
    -- Out of the detector's queue (trackings_to_detect), as the detector's batch does.
    UPDATE trackings t SET cancellation_detected_at = now()
    WHERE t.id IN (SELECT tracking_id FROM c) AND t.cancellation_detected_at IS NULL
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

-- re-release-decider (R16-R18): RE_RELEASE back to APPROVED with a new deadline counted from the
-- re-release, the flag, and for A+ orders the carrier cancelled the customer's address and out of
-- A+, in the same row write; the link retired, outbox order.re_released. REFUND refunded
-- TRACKING_CANCELLED_LATE, outbox refund.requested; FLAG_ONLY and NOT_APPLICABLE nothing more.
WITH c AS MATERIALIZED (
    SELECT d.*, d.outcome AS decided,
           pg_temp.address(jsonb_build_object(
               'name', o.ship_name, 'street_address1', o.ship_street_address1,
               'street_address2', o.ship_street_address2, 'city', o.ship_city,
               'state', o.ship_state, 'zipcode', o.ship_zipcode, 'country', o.ship_country,
               'phone_number', o.ship_phone_number)) AS ship_from,
           pg_temp.address(o.customer_shipping_detail) AS ship_to
    FROM cancellation_decisions d
    JOIN orders o ON o.id = d.order_id
    WHERE d.cancellation_detected_at IS NOT NULL AND d.cancellation_decided_at IS NULL
), re_released AS (
    UPDATE orders o
    SET state = 'APPROVED', released_at = now(),
        fulfillment_deadline = now() + c.rerelease_deadline_days * interval '1 day',
        is_re_released = true, order_re_released_date = now(),
        flags = ARRAY(SELECT DISTINCT f FROM unnest(o.flags || CASE WHEN c.aplus_leaves
                                                                  THEN '{APLUS_TRACKING_NUMBER_CANCELLED}'::text[]
                                                                  ELSE '{TRACKING_NUMBER_CANCELLED}'::text[] END) f
                      ORDER BY f),
        is_advanced_logistics = o.is_advanced_logistics AND NOT c.aplus_leaves,
        ship_name = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'name' ELSE o.ship_name END,
        ship_street_address1 = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'street_address1' ELSE o.ship_street_address1 END,
        ship_street_address2 = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'street_address2' ELSE o.ship_street_address2 END,
        ship_city = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'city' ELSE o.ship_city END,
        ship_state = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'state' ELSE o.ship_state END,
        ship_zipcode = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'zipcode' ELSE o.ship_zipcode END,
        ship_country = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'country' ELSE o.ship_country END,
        ship_phone_number = CASE WHEN c.aplus_leaves THEN c.ship_to ->> 'phone_number' ELSE o.ship_phone_number END,
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
    SET is_current = ot.is_current AND c.decided <> 'RE_RELEASE',
        replaced_at = CASE WHEN c.decided = 'RE_RELEASE' THEN now() ELSE ot.replaced_at END,
        cancellation_decided_at = now(), cancellation_outcome = c.decided,
        aplus_leaves = CASE WHEN c.decided = 'RE_RELEASE' THEN c.aplus_leaves END,
        aplus_reset_at = CASE WHEN c.decided = 'RE_RELEASE' THEN now() ELSE ot.aplus_reset_at END
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
                                        'new_deadline', pg_temp.rfc3339z(now() + c.rerelease_deadline_days * interval '1 day'),
                                        'left_aplus_program', c.aplus_leaves)
                     || CASE WHEN c.aplus_leaves
                             THEN jsonb_build_object('ship_to_country', c.ship_to ->> 'country')
                             ELSE '{}'::jsonb END
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
       c.inputs || jsonb_build_object('rule', 'R16')
           || CASE WHEN c.decided = 'RE_RELEASE' THEN
                  jsonb_build_object(
                      'flags', jsonb_build_array(CASE WHEN c.aplus_leaves
                                                      THEN 'APLUS_TRACKING_NUMBER_CANCELLED'
                                                      ELSE 'TRACKING_NUMBER_CANCELLED' END),
                      'new_deadline', pg_temp.rfc3339z(now() + c.rerelease_deadline_days * interval '1 day'),
                      'left_aplus_program', c.aplus_leaves)
                  || CASE WHEN c.aplus_leaves
                          THEN jsonb_build_object('shipping_detail_before', c.ship_from,
                                                  'shipping_detail_after', c.ship_to)
                          ELSE '{}'::jsonb END
              ELSE '{}'::jsonb END,
       now()
FROM c
ORDER BY c.link_id;

COMMIT;
