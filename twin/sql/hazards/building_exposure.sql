-- Every building whose point on surface lies in a mudflow or an avalanche zone (after
-- zone_parts), with the zone's basin, band of height above the channel (the lowest band when
-- bands touch there), fan and protecting dam, and the avalanche basin. Joined from the zones'
-- side through the buildings' spatial index. Footprints as WKB, lon/lat.
WITH hit AS (
    SELECT b.id, z.hazard, z.basin, z.above_channel_m, z.on_fan, z.protected, z.protected_by
    FROM hazard_parts z
    JOIN buildings b ON ST_Intersects(z.geom, b.geom)
        AND ST_Intersects(z.geom, ST_PointOnSurface(b.geom))
), mudflow AS (
    SELECT DISTINCT ON (id) id, basin, above_channel_m, on_fan, protected, protected_by
    FROM hit WHERE hazard = 'mudflow'
    ORDER BY id, above_channel_m, protected DESC
), avalanche AS (
    SELECT DISTINCT ON (id) id, basin FROM hit WHERE hazard = 'avalanche' ORDER BY id, basin
)
SELECT
    b.id,
    b.plot_cadastral_number,
    b.district,
    b.use,
    m.basin,
    m.above_channel_m,
    m.on_fan,
    coalesce(m.protected, false),
    m.protected_by,
    a.basin,
    ST_AsBinary(b.geom)
FROM buildings b
JOIN (SELECT id FROM mudflow UNION SELECT id FROM avalanche) exposed ON exposed.id = b.id
LEFT JOIN mudflow m ON m.id = b.id
LEFT JOIN avalanche a ON a.id = b.id
ORDER BY b.id
