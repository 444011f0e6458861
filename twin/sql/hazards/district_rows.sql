-- The hazard figures of every district (GET /indicators `hazards`), without the outline.
SELECT to_jsonb(h) - 'geom' - 'id' FROM district_hazards h ORDER BY district
