SELECT id, name, kind, status, district, ST_AsBinary(ST_Transform(geom, 32643)) AS wkb
FROM parks
WHERE status = 'existing'
