-- How many features a layer has, its largest id and its extent (for the benchmark's queries).
SELECT count(*), max(t.id), ST_XMin(ST_Extent(t.geom)), ST_YMin(ST_Extent(t.geom)),
       ST_XMax(ST_Extent(t.geom)), ST_YMax(ST_Extent(t.geom))
FROM {table} AS t
