WITH p AS (
    SELECT id, cadastral_number, land_use, zoning, district, residents, area_m2,
           ST_PointOnSurface(geom) AS pt
    FROM plots
    WHERE %(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s)
)
SELECT p.id, p.cadastral_number, p.land_use, p.zoning, p.district, p.residents, p.area_m2,
       ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat, c.name AS polycentre
FROM p
LEFT JOIN LATERAL (
    SELECT name FROM polycentres WHERE ST_Intersects(polycentres.geom, p.pt) LIMIT 1
) c ON true
ORDER BY p.id
