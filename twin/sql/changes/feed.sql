-- The newest change events, optionally of one district and one layer.
SELECT e.id, e.happened_at, e.layer, e.feature_id, e.district, e.kind, e.subject, e.count,
       e.quantity, e.unit, e.title_en, e.title_ru, e.title_kk, e.synthetic,
       ST_X(e.geom), ST_Y(e.geom)
FROM change_events AS e
WHERE (%(district)s::text IS NULL OR e.district = %(district)s)
  AND (%(layer)s::text IS NULL OR e.layer = %(layer)s)
ORDER BY e.happened_at DESC, e.id DESC
LIMIT %(limit)s
