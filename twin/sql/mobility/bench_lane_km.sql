-- Raw SQL for `twin bench mobility`: bike-lane km per district and status (split at boundaries).
SELECT d.name_en, b.status, sum(ST_Length(ST_Intersection(b.geom, d.geom)::geography)) / 1000
FROM bike_lanes b JOIN districts d ON ST_Intersects(b.geom, d.geom)
GROUP BY 1, 2
