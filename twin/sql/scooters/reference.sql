-- What positions are placed against: the parking spots, the monitored zones, the districts.
SELECT 'parking' AS kind, id, ST_X(geom) AS lon, ST_Y(geom) AS lat, NULL::bytea AS wkb,
       name AS label
FROM scooter_parking
UNION ALL
SELECT 'zone', id, NULL, NULL, ST_AsBinary(geom), kind FROM scooter_zones
UNION ALL
SELECT 'district', id, NULL, NULL, ST_AsBinary(geom), name_en FROM districts
