-- Which of these trip ids (a JSON array: one parameter, not 100 thousand) are stored already,
-- among the trips started in [from, to) (the batch's days and one either side: the day
-- partitions' keys find them).
SELECT trip_id FROM scooter_trips
WHERE start_time >= %(from)s AND start_time < %(to)s
  AND trip_id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb))
