-- The polycentres for the plan report: their Russian names, their own urban-form targets
-- (density, largest block) and their outlines (GeoJSON, WGS 84) for the maps.
SELECT name, name_ru, target_density_pph, max_block_ha,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %(tolerance)s), 6) AS outline
FROM polycentres
ORDER BY name
