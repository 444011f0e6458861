-- Mudflow and avalanche exposure of one plot (plot-report): the zones under its point.
WITH p AS (SELECT ST_PointOnSurface(geom) AS pt FROM plots WHERE id = %(plot_id)s)
SELECT
    (SELECT basin FROM mudflow_zones z, p WHERE ST_Intersects(z.geom, p.pt)
     ORDER BY above_channel_m LIMIT 1) AS mudflow_basin,
    (SELECT above_channel_m FROM mudflow_zones z, p WHERE ST_Intersects(z.geom, p.pt)
     ORDER BY above_channel_m LIMIT 1) AS above_channel_m,
    (SELECT protected_by FROM mudflow_zones z, p WHERE ST_Intersects(z.geom, p.pt)
     ORDER BY above_channel_m LIMIT 1) AS protected_by,
    (SELECT basin FROM avalanche_zones a, p WHERE ST_Intersects(a.geom, p.pt) LIMIT 1)
        AS avalanche_basin
