-- The random draws of order number i of seed.sql, defined once so that expected.sql works out
-- the design from the very draws the seed made (\ir draws.sql): nine independent hashes of i
-- (h1 merchant, h2 A+, h3 carrier, h4 release time, h5 never scanned, h6 delivered, h7
-- cancellation time, h8 cancelled by, h9 customer), the release time and the time the order
-- is cancelled at if it is one of the cancelled ones (every 20th).
CREATE FUNCTION pg_temp.draws(i bigint)
RETURNS TABLE (h1 bigint, h2 bigint, h3 bigint, h4 bigint, h5 bigint, h6 bigint, h7 bigint,
               h8 bigint, h9 bigint, r timestamptz, cancel_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT h.*, rel.r, rel.r + interval '2 days' + (1 + h.h7 % (39 * 1440)) * interval '1 minute'
    FROM (
        SELECT hashint8extended(i, 1) & 9223372036854775807 AS h1,
               hashint8extended(i, 2) & 9223372036854775807 AS h2,
               hashint8extended(i, 3) & 9223372036854775807 AS h3,
               hashint8extended(i, 4) & 9223372036854775807 AS h4,
               hashint8extended(i, 5) & 9223372036854775807 AS h5,
               hashint8extended(i, 6) & 9223372036854775807 AS h6,
               hashint8extended(i, 7) & 9223372036854775807 AS h7,
               hashint8extended(i, 8) & 9223372036854775807 AS h8,
               hashint8extended(i, 9) & 9223372036854775807 AS h9
    ) h
    CROSS JOIN LATERAL (
        SELECT timestamptz '2020-10-15 00:00Z' + (h.h4 % (443 * 1440)) * interval '1 minute' AS r
    ) rel
$$;
