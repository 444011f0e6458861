-- The loaded districts' lon/lat extent (NULLs while there is no district).
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM {table}) AS d
