DELETE FROM scooter_trips
WHERE synthetic
  AND start_time >= %(from)s - interval '1 day'
  AND start_time < %(from)s + interval '2 days'
