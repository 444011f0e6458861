SELECT operator, polled_at, outcome, reason, details, vehicles, stations, duration_ms
FROM scooter_polls
WHERE (%(operator)s::text IS NULL OR operator = %(operator)s)
ORDER BY polled_at DESC, id DESC
LIMIT %(limit)s
