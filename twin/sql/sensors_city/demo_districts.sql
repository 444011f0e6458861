-- The districts with their residents and the city's extent (air sensors by population).
SELECT name_en, coalesce(population, 0) FROM districts ORDER BY name_en;
