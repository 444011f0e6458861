-- The phenomenon time span of each Datastream of a batch widens to take the batch in.
UPDATE sta_datastreams d SET
    phenomenon_start = LEAST(d.phenomenon_start, v.first_time),
    phenomenon_end = GREATEST(d.phenomenon_end, v.last_time)
FROM unnest(%(ids)s::bigint[], %(first_time)s::timestamptz[], %(last_time)s::timestamptz[])
    AS v (id, first_time, last_time)
WHERE d.id = v.id
