-- Raw SQL for `twin bench mobility`: cameras per km2 and the integrated share per district.
SELECT d.name_en, count(c.id) / (ST_Area(d.geom::geography) / 1e6), avg(c.integrated::int)
FROM districts d LEFT JOIN cameras c ON ST_Intersects(d.geom, c.geom)
GROUP BY d.name_en, d.geom
