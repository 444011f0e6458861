-- Raw SQL for `twin bench mobility`: schools, clinics and metro/BRT stations with no camera
-- within 50 m.
WITH sites AS (SELECT geom FROM amenities WHERE kind IN ('school', 'clinic')
               UNION ALL
               SELECT geom FROM transit_stops WHERE mode IN ('metro', 'brt'))
SELECT count(*) FROM sites s
WHERE NOT EXISTS (SELECT 1 FROM cameras c
                  WHERE c.geom && ST_Expand(s.geom, 0.001)
                    AND ST_DWithin(c.geom::geography, s.geom::geography, 50))
