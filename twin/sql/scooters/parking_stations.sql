-- The scooter parking spots as GBFS virtual stations, with the scooters standing at each now.
SELECT p.id, coalesce(p.name, 'Scooter parking ' || p.id), ST_X(p.geom), ST_Y(p.geom),
       p.capacity, p.district,
       ST_AsGeoJSON(ST_Multi(ST_ForcePolygonCCW(
           ST_Buffer(p.geom::geography, %(radius_m)s, 8)::geometry)), 6),
       count(l.vehicle_id) FILTER (WHERE NOT l.is_disabled AND NOT l.is_reserved),
       count(l.vehicle_id) FILTER (WHERE l.is_disabled),
       max(l.polled_at)
FROM scooter_parking p
LEFT JOIN scooter_latest l ON l.parking_id = p.id
GROUP BY p.id
ORDER BY p.id
