-- Districts in metres (UTM 43N) with their residents.
SELECT name_en, population, ST_AsBinary(ST_Transform(geom, 32643)) AS wkb
FROM districts
ORDER BY name_en
