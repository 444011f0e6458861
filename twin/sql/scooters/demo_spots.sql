-- The parking spots the demo operators place scooters around: capacity, and whether the spot
-- lies in one of the 15 key sections (the most loaded zones, S1).
SELECT ST_X(p.geom), ST_Y(p.geom), p.capacity,
       EXISTS (SELECT 1 FROM scooter_zones z
               WHERE z.kind = 'key_section' AND ST_Intersects(z.geom, p.geom))
FROM scooter_parking p
WHERE p.capacity > 0
ORDER BY p.id
