-- Lock the batch's Datastreams in id order, so two ingests touching the same ones never
-- deadlock on the latest_* update.
SELECT id, latest_time FROM sta_datastreams WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE
