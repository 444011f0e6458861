-- Every plot's residents and district at a point on its surface, in metres (UTM 43N).
WITH p AS (SELECT id, residents, district, ST_Transform(ST_PointOnSurface(geom), 32643) AS pt
           FROM plots)
SELECT id, coalesce(residents, 0), district, ST_X(pt), ST_Y(pt) FROM p ORDER BY id
