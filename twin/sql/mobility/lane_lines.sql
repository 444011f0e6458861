-- Bike lanes in metres (UTM 43N) with their status.
SELECT status, ST_AsBinary(ST_Transform(geom, 32643)) AS wkb
FROM bike_lanes
