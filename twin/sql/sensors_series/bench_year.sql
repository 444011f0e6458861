-- `twin bench sensors`: a year of hourly aggregates of the bench's own Datastream (a row an
-- hour in [start, end); hours that hold real aggregates keep them).
INSERT INTO sta_observations_hourly (datastream_id, hour, n, mean, min, max)
SELECT %(id)s, h, 60, 20 + extract(hour FROM h), 10 + extract(hour FROM h),
       30 + extract(hour FROM h)
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                     interval '1 hour') AS h
ON CONFLICT (datastream_id, hour) DO NOTHING
