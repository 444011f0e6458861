-- Incoming rows already in the layer: the same geometry (every vertex within 1e-7 degrees,
-- about 1 cm: a file written again by another tool keeps its coordinates only to ~15 digits)
-- and the same name.
SELECT k.i FROM twin_import_keys k
WHERE EXISTS (SELECT 1 FROM {table} t
              WHERE t.geom && ST_Expand(k.g, 1e-7) AND ST_NPoints(t.geom) = ST_NPoints(k.g)
                AND ST_HausdorffDistance(t.geom, k.g) <= 1e-7
                AND {name_match})
