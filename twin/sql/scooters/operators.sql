-- Each operator with its latest poll and its counts of outcomes by reason (last 24 hours).
SELECT o.name, o.url, o.enabled, o.next_poll_at, o.failures, o.last_ok_at,
       last.polled_at, last.outcome, last.reason, last.details, last.vehicles,
       coalesce((SELECT jsonb_object_agg(k, n) FROM (
           SELECT coalesce(p.reason, p.outcome) AS k, count(*) AS n
           FROM scooter_polls p
           WHERE p.operator = o.name AND p.polled_at > now() - interval '24 hours'
           GROUP BY 1) c), jsonb_build_object())
FROM scooter_operators o
LEFT JOIN LATERAL (
    SELECT * FROM scooter_polls p WHERE p.operator = o.name ORDER BY p.polled_at DESC, p.id DESC
    LIMIT 1
) last ON true
ORDER BY o.name
