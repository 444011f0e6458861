-- The KPIs as the twin holds them now: lit street length and all street length (m), existing
-- park area (ha), schools.
SELECT (SELECT coalesce(sum(length_m) FILTER (WHERE lit), 0) FROM streets),
       (SELECT coalesce(sum(length_m), 0) FROM streets),
       (SELECT coalesce(sum(area_ha), 0) FROM parks WHERE status = 'existing'),
       (SELECT count(*) FROM amenities WHERE kind = 'school')
