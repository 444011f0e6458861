-- The dashboard's scooter injury figures: the reports of the latest year that has any (this
-- year, or the demo's), how many were serious or fatal, and the cells (H3, resolution 9) whose
-- reports fall in a crash hotspot of the latest hotspot year up to it (crash_hotspots are the
-- same cells). One row; `top` cells in hotspots, most reports first, as JSON.
WITH latest AS (
    SELECT extract(year FROM max(occurred_at) AT TIME ZONE 'UTC')::int AS year
    FROM scooter_injuries
), hotspot_year AS (
    SELECT max(h.year) AS year FROM crash_hotspots h, latest WHERE h.year <= latest.year
), cells AS (
    SELECT
        i.h3,
        count(*)::int AS reports,
        count(*) FILTER (WHERE i.severity IN ('serious', 'fatal'))::int AS serious,
        count(*) FILTER (WHERE i.severity = 'fatal')::int AS fatal
    FROM scooter_injuries i, latest
    WHERE i.occurred_at >= make_timestamptz(latest.year, 1, 1, 0, 0, 0, 'UTC')
      AND i.occurred_at < make_timestamptz(latest.year + 1, 1, 1, 0, 0, 0, 'UTC')
    GROUP BY i.h3
), placed AS (
    SELECT c.*, h.rank AS hotspot_rank, h.crashes AS hotspot_crashes, h.street, h.district
    FROM cells c
    LEFT JOIN crash_hotspots h ON h.h3 = c.h3 AND h.year = (SELECT year FROM hotspot_year)
)
SELECT
    (SELECT year FROM latest),
    (SELECT year FROM hotspot_year),
    coalesce(sum(reports), 0)::int,
    coalesce(sum(serious), 0)::int,
    coalesce(sum(fatal), 0)::int,
    coalesce(sum(reports) FILTER (WHERE hotspot_rank IS NOT NULL), 0)::int,
    count(*)::int,
    (
        SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.reports DESC, t.hotspot_rank), '[]')
        FROM (
            SELECT h3, reports, serious, hotspot_rank, hotspot_crashes, street, district
            FROM placed WHERE hotspot_rank IS NOT NULL
            ORDER BY reports DESC, hotspot_rank, h3
            LIMIT %(top)s
        ) t
    )
FROM placed
