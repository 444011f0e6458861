SELECT name, target_density_pph, ST_AsBinary(geom) AS wkb
FROM polycentres
ORDER BY name
