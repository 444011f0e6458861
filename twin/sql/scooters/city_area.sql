-- The city (its districts) as one MultiPolygon, for the global rules of the MDS policy.
SELECT ST_AsGeoJSON(ST_Multi(ST_ForcePolygonCCW(ST_Union(geom))), 5) FROM districts
