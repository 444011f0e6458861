-- Schools, clinics and transit hubs (metro and BRT stations): the sites that should be watched.
SELECT 'amenities' AS layer, id, kind, name, ST_X(ST_Transform(geom, 32643)) AS x,
       ST_Y(ST_Transform(geom, 32643)) AS y
FROM amenities
WHERE kind IN ('school', 'clinic')
UNION ALL
SELECT 'transit_stops', id, mode || '_station', name, ST_X(ST_Transform(geom, 32643)),
       ST_Y(ST_Transform(geom, 32643))
FROM transit_stops
WHERE mode IN ('metro', 'brt')
ORDER BY 1, 2
