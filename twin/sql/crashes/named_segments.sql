-- The segments of the named streets (by name in English, Russian or Kazakh, any case) with
-- their end nodes and end points: an address "street / cross street" is where two meet.
SELECT lower(name), lower(name_ru), lower(name_kk), id, name, source_node, target_node,
       ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)),
       ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom))
FROM streets
WHERE lower(name) = ANY(%(names)s) OR lower(name_ru) = ANY(%(names)s)
   OR lower(name_kk) = ANY(%(names)s)
