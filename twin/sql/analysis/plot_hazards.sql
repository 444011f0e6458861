-- Seismic and utility facts of one plot (plot-report), measured in UTM 43N metres.
WITH p AS (
    SELECT id, geom, ST_Transform(geom, 32643) AS g FROM plots WHERE id = %(plot_id)s
), fault AS (
    SELECT f.name, coalesce(f.setback_m, 100) AS setback_m,
           ST_Distance(ST_Transform(f.geom, 32643), p.g) AS distance_m
    FROM seismic_faults f, p
    WHERE coalesce(f.active, true)
)
SELECT
    (SELECT max(z.intensity) FROM seismic_zones z, p
     WHERE ST_Intersects(z.geom, ST_PointOnSurface(p.geom))) AS intensity,
    (SELECT name FROM fault ORDER BY distance_m LIMIT 1) AS nearest_fault,
    (SELECT min(distance_m) FROM fault) AS fault_distance_m,
    coalesce((SELECT bool_or(distance_m <= setback_m) FROM fault), false) AS in_fault_setback,
    (SELECT string_agg(name, ', ' ORDER BY distance_m) FROM fault
     WHERE distance_m <= setback_m) AS setback_faults
