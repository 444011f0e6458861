-- The demo's centre: the middle of its scooter parking, which gathers in the centre.
SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) AS c FROM scooter_parking) p
