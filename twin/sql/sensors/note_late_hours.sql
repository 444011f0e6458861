-- The hours of a batch's late Observations (below late_mark), noted once per (Datastream,
-- hour) for the next retention run, or counted again when already noted.
INSERT INTO sta_late_hours AS l (datastream_id, hour)
SELECT DISTINCT t.datastream_id, date_bin('1 hour', t.at, TIMESTAMPTZ '2000-01-01 00:00+00')
FROM unnest(%(ids)s::bigint[], %(times)s::timestamptz[]) AS t (datastream_id, at)
ON CONFLICT (datastream_id, hour) DO UPDATE SET noted = l.noted + 1
