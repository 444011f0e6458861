-- The scooter injury reports by H3 cell (resolution 9) and month, with the crash hotspot of the
-- same cell and year where there is one (crash_hotspots: H3 cells of the same resolution).
SELECT i.h3, to_char(date_trunc('month', i.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
       count(*)::int,
       count(*) FILTER (WHERE i.severity = 'fatal')::int,
       count(*) FILTER (WHERE i.severity = 'serious')::int,
       count(*) FILTER (WHERE i.severity = 'slight')::int,
       count(*) FILTER (WHERE i.severity = 'unknown')::int,
       array_agg(DISTINCT i.operator) FILTER (WHERE i.operator IS NOT NULL),
       min(h.rank), min(h.crashes)
FROM scooter_injuries i
LEFT JOIN crash_hotspots h
  ON h.h3 = i.h3 AND h.year = extract(year FROM i.occurred_at AT TIME ZONE 'UTC')::int
GROUP BY i.h3, month
ORDER BY month, count(*) DESC, i.h3
