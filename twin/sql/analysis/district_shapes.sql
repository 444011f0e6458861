SELECT name_en, population, ST_AsBinary(geom) AS wkb
FROM districts
ORDER BY name_en
