SELECT z.id, z.name, z.district, count(l.vehicle_id) FILTER (WHERE NOT l.is_reserved),
       count(l.vehicle_id) FILTER (WHERE NOT l.is_reserved AND l.parking_id IS NULL)
FROM scooter_zones z LEFT JOIN scooter_latest l ON l.zone_id = z.id
WHERE z.kind = 'key_section'
GROUP BY z.id ORDER BY z.id
