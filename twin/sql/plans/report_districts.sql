-- The districts' outlines for the plan report's maps, simplified to ~20 m (a page is ~15 cm
-- wide): names in the three languages, the outline as GeoJSON in WGS 84.
SELECT name_en, name_ru, name_kk,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %(tolerance)s), 6) AS outline
FROM districts
ORDER BY name_en
