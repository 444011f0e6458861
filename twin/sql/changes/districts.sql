-- The districts' names in the three languages (change titles name them).
SELECT name_en, name_ru, name_kk FROM districts ORDER BY name_en
