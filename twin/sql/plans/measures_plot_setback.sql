-- Plots whose footprint comes within an active fault's setback (the twin's rule, as in
-- twin/analysis/seismic.py: setback_m, default 100 m, each side of the trace, in UTM 43N).
-- The bounding-box test (a degree is more than 60 km here) lets the index narrow the pairs.
SELECT DISTINCT p.id
FROM plots p
JOIN seismic_faults f
  ON coalesce(f.active, true)
 AND p.geom && ST_Expand(f.geom, coalesce(f.setback_m, 100) / 60000.0)
 AND ST_DWithin(ST_Transform(p.geom, 32643), ST_Transform(f.geom, 32643),
                coalesce(f.setback_m, 100))
