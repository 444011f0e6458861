SELECT ST_X(geom), ST_Y(geom) FROM scooter_parking ORDER BY id
