-- Hectares of the 2022 park inventory (S2 l.4409, Annex 4-5), apart from the rest of the
-- public-use green in the same layer (inventory false, S2 l.4385).
SELECT coalesce(sum(ST_Area(ST_Transform(geom, 32643))), 0) / 1e4 AS hectares
FROM parks
WHERE status = 'existing' AND inventory IS TRUE
