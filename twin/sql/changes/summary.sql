-- A month of change events per district, layer, kind and subject: how many and how much.
SELECT e.district, e.layer, e.kind, e.subject, sum(e.count)::bigint, count(*)::bigint,
       sum(e.quantity), min(e.unit), bool_or(e.synthetic)
FROM change_events AS e
WHERE e.happened_at >= %(start)s AND e.happened_at < %(end)s
  AND (%(district)s::text IS NULL OR e.district = %(district)s)
GROUP BY e.district, e.layer, e.kind, e.subject
ORDER BY e.district NULLS LAST, sum(e.count) DESC, e.kind, e.subject
