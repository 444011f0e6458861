SELECT intensity, ST_AsBinary(geom) AS wkb FROM seismic_zones ORDER BY intensity DESC
