-- Lock the batch's Datastreams in id order, so two ingests (or an ingest and an edit) touching
-- the same ones never deadlock on the latest_* update. FOR NO KEY UPDATE, the lock that update
-- takes: it leaves the foreign-key checks of a retention run writing the Datastream's hourly
-- aggregates free (FOR UPDATE would make them wait for the batch, a lock cycle with a batch or
-- an edit waiting for one of the run's rows).
SELECT id, latest_time FROM sta_datastreams WHERE id = ANY(%(ids)s) ORDER BY id
FOR NO KEY UPDATE
