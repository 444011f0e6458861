-- Change events by month since an instant, per kind and subject: counts and quantities (the
-- KPI trends walk the present back through them).
SELECT date_trunc('month', e.happened_at AT TIME ZONE 'UTC')::date AS month, e.kind, e.subject,
       sum(e.count)::bigint, coalesce(sum(e.quantity), 0)
FROM change_events AS e
WHERE e.happened_at >= %(since)s
GROUP BY 1, 2, 3
ORDER BY 1
