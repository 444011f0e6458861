-- Scooter parking spots in metres (UTM 43N), and whether each lies in a monitored or planned
-- duty zone (scooter_zones), for the scooter's trip ends (twin/mobility/micromobility.py).
SELECT p.id,
       ST_X(ST_Transform(p.geom, 32643)) AS x,
       ST_Y(ST_Transform(p.geom, 32643)) AS y,
       EXISTS (SELECT 1 FROM scooter_zones z WHERE ST_Intersects(z.geom, p.geom)) AS in_zone
FROM scooter_parking p
ORDER BY p.id
