SELECT scooter_trip_partition(day) FROM unnest(%(days)s::date[]) AS day
