-- The mudflow and avalanche zones cut into small indexed parts: a zone is one large
-- multipolygon per basin, band and dam, so a point test against it reads every vertex;
-- against its parts it is one index probe. Each part keeps its zone's attributes (the
-- buildings' exposure reads them). A temporary table, dropped by exposure_done.
DROP TABLE IF EXISTS hazard_parts;
CREATE TEMP TABLE hazard_parts AS
SELECT 'mudflow'::text AS hazard, basin, above_channel_m, coalesce(on_fan, false) AS on_fan,
       protected, protected_by, ST_Subdivide(geom, 64) AS geom
FROM mudflow_zones
UNION ALL
SELECT 'avalanche', basin, NULL::double precision, false, false, NULL::text,
       ST_Subdivide(geom, 64)
FROM avalanche_zones;
CREATE INDEX ON hazard_parts USING gist (geom);
ANALYZE hazard_parts;
