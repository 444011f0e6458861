-- Raw SQL for `twin bench mobility`: residents within 300 m of a built bike lane or a bike-share
-- station per district, as an analyst writes it (geography distances, GiST bbox prefilter).
SELECT p.district, sum(p.residents) AS residents_near_bike
FROM plots p
WHERE EXISTS (SELECT 1 FROM bike_lanes b
              WHERE b.status = 'built' AND b.geom && ST_Expand(ST_PointOnSurface(p.geom), 0.0045)
                AND ST_DWithin(b.geom::geography, ST_PointOnSurface(p.geom)::geography, 300))
   OR EXISTS (SELECT 1 FROM bikeshare_stations s
              WHERE s.geom && ST_Expand(ST_PointOnSurface(p.geom), 0.0045)
                AND ST_DWithin(s.geom::geography, ST_PointOnSurface(p.geom)::geography, 300))
GROUP BY p.district
