-- Mudflow and avalanche exposure of one plot (plot-report): the zones under its point on
-- surface (the point the district figures count); the lowest band when bands touch there.
WITH p AS (SELECT ST_PointOnSurface(geom) AS pt FROM plots WHERE id = %(plot_id)s)
SELECT
    m.basin AS mudflow_basin,
    m.above_channel_m,
    m.protected,
    m.protected_by,
    m.reliable,
    m.on_fan,
    (SELECT basin FROM avalanche_zones a WHERE ST_Intersects(a.geom, p.pt) LIMIT 1)
        AS avalanche_basin
FROM p
LEFT JOIN LATERAL (
    SELECT basin, above_channel_m, protected, protected_by, reliable, on_fan
    FROM mudflow_zones z WHERE ST_Intersects(z.geom, p.pt)
    ORDER BY above_channel_m LIMIT 1
) m ON true
