SELECT name, url FROM scooter_operators
WHERE enabled AND next_poll_at <= now()
ORDER BY next_poll_at
