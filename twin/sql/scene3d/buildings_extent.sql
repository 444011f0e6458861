-- The lon/lat extent of all buildings: the root of the 3D Tiles tree.
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n
FROM (SELECT ST_Extent(geom)::geometry AS e, count(*) AS n FROM buildings) AS extent
