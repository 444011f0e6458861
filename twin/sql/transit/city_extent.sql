-- The city the feed's stops must lie in: the districts' extent (NULLs with no districts).
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM districts) AS d
