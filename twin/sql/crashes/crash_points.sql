-- Every crash with its street's class (NULL: no street related), for the hotspots.
SELECT c.year, ST_X(c.geom), ST_Y(c.geom), c.killed, c.injured, c.pedestrian, c.street,
       s.highway, c.district
FROM crashes c
LEFT JOIN streets s ON s.id = c.street_id
