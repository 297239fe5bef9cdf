-- The two text forms of a DateTime<Utc> the service writes, for seed.sql and setbased.sql
-- (\ir rfc3339.sql): the seconds, then .mmm or .uuuuuu only when the fraction is not zero,
-- then the offset.
CREATE FUNCTION pg_temp.rfc3339_with(ts timestamptz, offset_text text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
               WHEN extract(microseconds FROM ts)::bigint % 1000000 = 0 THEN ''
               WHEN extract(microseconds FROM ts)::bigint % 1000 = 0
                   THEN '.' || to_char(ts AT TIME ZONE 'UTC', 'MS')
               ELSE '.' || to_char(ts AT TIME ZONE 'UTC', 'US')
           END
        || offset_text
$$;

-- chrono's serde form (what json!() stores): 2021-03-04T10:00:00Z.
CREATE FUNCTION pg_temp.rfc3339z(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT pg_temp.rfc3339_with(ts, 'Z')
$$;

-- chrono's to_rfc3339() (in the workers' explanations): 2020-11-10T00:00:00+00:00.
CREATE FUNCTION pg_temp.rfc3339(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT pg_temp.rfc3339_with(ts, '+00:00')
$$;
