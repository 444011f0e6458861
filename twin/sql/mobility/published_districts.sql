-- Each district's published indicators, as the JSON document lists them.
SELECT to_jsonb(t) - 'id' - 'geom' FROM district_mobility_safety t ORDER BY district
