-- Length-weighted wear per network and district (lines without a district take the district
-- their midpoint lies in), plus the whole city.
WITH line AS (
    SELECT u.network, u.wear_pct,
           coalesce(u.length_m, ST_Length(u.geom::geography)) AS length_m,
           coalesce(u.district, d.name_en) AS district
    FROM utility_lines u
    LEFT JOIN LATERAL (
        SELECT name_en FROM districts
        WHERE u.district IS NULL AND ST_Intersects(districts.geom, ST_PointOnSurface(u.geom))
        LIMIT 1
    ) d ON true
    WHERE u.wear_pct IS NOT NULL
)
SELECT network, CASE WHEN GROUPING(district) = 1 THEN '*city*' ELSE district END AS district,
       sum(wear_pct * length_m) / nullif(sum(length_m), 0) AS wear_pct,
       sum(length_m) / 1000.0 AS length_km
FROM line
GROUP BY GROUPING SETS ((network, district), (network))
