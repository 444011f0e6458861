-- The mudflow and avalanche zones cut into small indexed parts: a zone is one large
-- multipolygon per basin, band and dam, so a point test against it reads every vertex;
-- against its parts it is one index probe. A temporary table, dropped by exposure_done.
DROP TABLE IF EXISTS hazard_parts;
CREATE TEMP TABLE hazard_parts AS
SELECT 'mudflow'::text AS hazard, protected, ST_Subdivide(geom, 64) AS geom FROM mudflow_zones
UNION ALL
SELECT 'avalanche', false, ST_Subdivide(geom, 64) FROM avalanche_zones;
CREATE INDEX ON hazard_parts USING gist (geom);
ANALYZE hazard_parts;
