SELECT coalesce(district, ''), count(*) FILTER (WHERE NOT is_reserved),
       count(*) FILTER (WHERE NOT is_reserved AND parking_id IS NULL)
FROM scooter_latest GROUP BY 1 ORDER BY 1
