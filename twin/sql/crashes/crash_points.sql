-- Every crash with its street's class and signed speed limit (NULL: no street related, or
-- no limit in the data), for the hotspots.
SELECT c.year, ST_X(c.geom), ST_Y(c.geom), c.killed, c.injured, c.pedestrian, c.street,
       s.highway, c.district, s.max_speed_kmh
FROM crashes c
LEFT JOIN streets s ON s.id = c.street_id
