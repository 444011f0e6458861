-- Which of these trip ids are stored already, among the trips started in [from, to) (the
-- batch's days and one either side: the day partitions' keys find them).
SELECT trip_id FROM scooter_trips
WHERE start_time >= %(from)s AND start_time < %(to)s AND trip_id = ANY(%(ids)s)
