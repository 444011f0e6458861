-- The streets crossing each avalanche zone (their length inside it, in metres of UTM 43N)
-- and the buildings standing in it; counted again whenever streets or buildings change.
UPDATE avalanche_zones a SET
    roads_crossing = coalesce(s.crossing, 0),
    road_km = round(coalesce(s.metres, 0)::numeric / 1000, 3),
    buildings = (SELECT count(*) FROM buildings b
                 WHERE ST_Intersects(a.geom, b.geom)
                   AND ST_Intersects(a.geom, ST_PointOnSurface(b.geom)))
FROM avalanche_zones z
LEFT JOIN LATERAL (
    SELECT count(*) AS crossing,
           sum(ST_Length(ST_Transform(ST_Intersection(st.geom, z.geom), 32643))) AS metres
    FROM streets st WHERE ST_Intersects(st.geom, z.geom)
) s ON true
WHERE a.id = z.id
