-- Observations of some Datastreams in a time range (`twin bench sensors`: sent = stored).
SELECT count(*)
  FROM sta_observations
 WHERE datastream_id = ANY(%(ids)s)
   AND phenomenon_time >= %(from)s AND phenomenon_time < %(to)s
