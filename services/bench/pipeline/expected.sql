-- What the pipeline should have decided for each cancelled order of seed.sql, worked out from
-- the seed's own draws (draws.sql: the same hashes of the order number, not the tables) and
-- RULES.md R15-R18 read directly, against what order_trackings says was decided. Prints the outcome
-- counts and the number of orders decided otherwise (0 expected).
-- Usage: psql -v n=N -v merchants=M -f expected.sql DB   (after the three steps)
\set ON_ERROR_STOP 1
SET TIME ZONE 'UTC';
\pset format unaligned
\pset tuples_only on
\pset footer off
\ir draws.sql

CREATE TEMP TABLE expected AS
SELECT 'o-' || lpad(i::text, 8, '0') AS order_id,
       CASE
           WHEN h3 % 100 < 3 THEN 'NOT_APPLICABLE'                       -- USPS, not WishPost
           WHEN r < timestamptz '2020-11-10 00:00Z' THEN 'NOT_APPLICABLE' -- R15: released before
           WHEN h5 % 100 < 5 THEN 'NOT_APPLICABLE'                       -- never scanned
           WHEN (1 + h1 % :merchants) % 10 >= 7 THEN 'FLAG_ONLY'         -- R16: not CN
           WHEN cancel_at < timestamptz '2021-03-04 00:00Z' THEN 'FLAG_ONLY' -- R16: before re-release
           WHEN cancel_at::date - r::date >= 25 THEN 'REFUND'              -- R16: 25 calendar days
           ELSE 'RE_RELEASE'
       END AS outcome,
       h2 % 100 < 10 AND h8 % 100 >= 30 AS aplus_by_carrier           -- R18
FROM generate_series(20, :n, 20) i
CROSS JOIN LATERAL pg_temp.draws(i);

SELECT 'expected ' || outcome || CASE WHEN outcome = 'RE_RELEASE' AND aplus_by_carrier
                                      THEN ' + A+ reset' ELSE '' END, count(*)
FROM expected GROUP BY 1 ORDER BY 1;

SELECT 'orders decided otherwise than expected', count(*)
FROM expected e
JOIN order_trackings ot ON ot.order_id = e.order_id
JOIN orders o ON o.id = e.order_id
WHERE ot.cancellation_outcome IS DISTINCT FROM e.outcome
   OR (ot.aplus_reset_at IS NOT NULL) <> (e.outcome = 'RE_RELEASE')
   OR coalesce(ot.aplus_leaves, false) <> (e.outcome = 'RE_RELEASE' AND e.aplus_by_carrier)
   OR (e.outcome = 'RE_RELEASE' AND e.aplus_by_carrier AND o.is_advanced_logistics)
   OR o.state <> CASE e.outcome WHEN 'RE_RELEASE' THEN 'APPROVED' WHEN 'REFUND' THEN 'REFUNDED'
                                ELSE 'SHIPPED' END;

SELECT 'cancelled orders not decided', count(*)
FROM expected e
WHERE NOT EXISTS (SELECT 1 FROM order_trackings ot
                  WHERE ot.order_id = e.order_id AND ot.cancellation_decided_at IS NOT NULL);
