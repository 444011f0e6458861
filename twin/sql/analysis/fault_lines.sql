SELECT id, name, coalesce(setback_m, 100) AS setback_m, ST_AsBinary(geom) AS wkb
FROM seismic_faults
WHERE coalesce(active, true)
ORDER BY id
