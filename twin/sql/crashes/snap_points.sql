-- Each placed crash: its nearest street a vehicle drives (segment, name, metres) and district.
WITH p AS (
    SELECT n, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom
    FROM unnest(%(n)s::int[], %(lon)s::float8[], %(lat)s::float8[]) AS t (n, lon, lat)
)
SELECT p.n, s.id, s.name, ST_Distance(s.geom::geography, p.geom::geography), d.name_en
FROM p
LEFT JOIN LATERAL (
    SELECT id, name, geom FROM streets
    WHERE highway NOT IN ('footway', 'path', 'pedestrian')
    ORDER BY streets.geom <-> p.geom
    LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT name_en FROM districts WHERE ST_Intersects(districts.geom, p.geom) LIMIT 1
) d ON true
