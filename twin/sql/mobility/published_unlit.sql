-- The unlit streets as published, longest first.
SELECT district, name, unlit_m, segments FROM unlit_streets
ORDER BY unlit_m DESC, district COLLATE "C", name COLLATE "C"
