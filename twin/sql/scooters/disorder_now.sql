-- The scooters standing now (latest poll of each operator) and those left outside parking.
SELECT count(*) FILTER (WHERE NOT is_reserved),
       count(*) FILTER (WHERE NOT is_reserved AND parking_id IS NULL),
       max(polled_at),
       count(DISTINCT operator)
FROM scooter_latest
