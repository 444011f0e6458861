SELECT network, ST_AsBinary(geom) AS wkb FROM utility_lines ORDER BY network
