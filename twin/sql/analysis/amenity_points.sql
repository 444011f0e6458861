SELECT 'amenities' AS layer, id, category, kind, name, ST_X(geom) AS lon, ST_Y(geom) AS lat,
       capacity
FROM amenities
UNION ALL
SELECT 'transit_stops', id, 'transit', 'transit_stop', name, ST_X(geom), ST_Y(geom), NULL::int
FROM transit_stops
