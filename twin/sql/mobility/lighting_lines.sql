-- The lighting network in metres (UTM 43N).
SELECT ST_AsBinary(ST_Transform(geom, 32643)) AS wkb
FROM utility_lines
WHERE network = 'lighting'
