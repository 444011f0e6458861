-- Observations have no foreign key (the ingest's speed): deleting their Datastreams
-- deletes them here.
DELETE FROM sta_observations
WHERE datastream_id IN (SELECT id FROM sta_datastreams WHERE {column} = %(id)s)
