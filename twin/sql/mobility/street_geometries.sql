-- Street segments in metres (UTM 43N) with their current lighting status.
SELECT id, lit, ST_AsBinary(ST_Transform(geom, 32643)) AS wkb
FROM streets
ORDER BY id
