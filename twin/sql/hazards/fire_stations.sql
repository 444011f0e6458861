-- The fire stations and depots in metres (UTM 43N), with their status.
SELECT name, status, ST_X(ST_Transform(geom, 32643)), ST_Y(ST_Transform(geom, 32643))
FROM fire_stations ORDER BY id
