-- Streets unlit now by faulty lamps: each smart lamp's state at %(at)s, a deep-night instant
-- (sunset + 30 min .. sunrise - 30 min, twin/sensors/derived.py), is its last report at or
-- before it, made after that night's sunset %(sunset)s (both bounds prune the day partitions
-- of each lookup); off then is a fault. The lamp has been off since its first report after its
-- last "on" (or its first report).
WITH lamps AS (
    SELECT d.id, (t.properties ->> 'street_id')::bigint AS street_id
    FROM sta_datastreams d
    JOIN sta_things t ON t.id = d.thing_id
    WHERE t.layer = 'utility_lines' AND d.result_kind = 'boolean'
      AND t.properties ? 'street_id'
), faulty AS (
    SELECT l.id, l.street_id
    FROM lamps l
    CROSS JOIN LATERAL (
        SELECT o.phenomenon_time, o.result_json
        FROM sta_observations o
        WHERE o.datastream_id = l.id
          AND o.phenomenon_time >= %(sunset)s AND o.phenomenon_time <= %(at)s
        ORDER BY o.phenomenon_time DESC
        LIMIT 1
    ) last
    WHERE last.result_json = 'false'::jsonb
), since AS (
    SELECT f.id, f.street_id,
           (SELECT min(o.phenomenon_time) FROM sta_observations o
            WHERE o.datastream_id = f.id AND o.phenomenon_time <= %(at)s
              AND o.phenomenon_time > coalesce(
                  (SELECT max(o2.phenomenon_time) FROM sta_observations o2
                   WHERE o2.datastream_id = f.id AND o2.phenomenon_time <= %(at)s
                     AND o2.result_json = 'true'::jsonb), '-infinity')) AS since
    FROM faulty f
), streets_off AS (
    SELECT street_id, count(*) AS lamps_off, min(since) AS since FROM since GROUP BY street_id
), per_street AS (
    SELECT l.street_id, count(*) AS lamps
    FROM lamps l JOIN streets_off so USING (street_id) GROUP BY l.street_id
)
INSERT INTO lamp_faults (geom, street_id, street, district, lamps_off, lamps, since)
SELECT s.geom, s.id, s.name, dist.name_en, so.lamps_off, ps.lamps, so.since
FROM streets_off so
JOIN per_street ps USING (street_id)
JOIN streets s ON s.id = so.street_id
LEFT JOIN LATERAL (
    SELECT name_en FROM districts d
    WHERE ST_Intersects(d.geom, ST_LineInterpolatePoint(s.geom, 0.5)) LIMIT 1
) dist ON true;
