-- The demo day's injury reports whose trips are gone (forget_demo_trips ran before).
DELETE FROM scooter_injuries i
WHERE i.occurred_at >= %(from)s - interval '1 day'
  AND i.occurred_at < %(from)s + interval '2 days'
  AND NOT EXISTS (SELECT 1 FROM scooter_trips t WHERE t.trip_id = i.trip_id)
