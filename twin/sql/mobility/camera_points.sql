SELECT integrated, ST_X(ST_Transform(geom, 32643)) AS x, ST_Y(ST_Transform(geom, 32643)) AS y
FROM cameras
