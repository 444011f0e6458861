-- Metres from one plot to the nearest line of each network (ten nearest by the index, then
-- measured in UTM 43N).
WITH p AS (
    SELECT geom, ST_Transform(geom, 32643) AS g FROM plots WHERE id = %(plot_id)s
)
SELECT n.network, (
    SELECT min(ST_Distance(ST_Transform(c.geom, 32643), p.g))
    FROM (SELECT u.geom FROM utility_lines u WHERE u.network = n.network
          ORDER BY u.geom <-> p.geom LIMIT 10) c
) AS distance_m
FROM p, unnest(%(networks)s::text[]) AS n(network)
