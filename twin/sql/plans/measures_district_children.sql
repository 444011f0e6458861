-- Each district's residents and children: pupils (7-17) and preschool (1-6). Read through
-- to_jsonb so a districts table without the children columns (real data) answers nulls.
SELECT d.name_en, d.population,
       (to_jsonb(d) ->> 'children_school_age')::bigint AS children_school_age,
       (to_jsonb(d) ->> 'children_preschool_age')::bigint AS children_preschool_age
FROM districts d
ORDER BY d.name_en
