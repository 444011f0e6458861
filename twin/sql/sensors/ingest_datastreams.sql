-- The Datastreams a batch of Observations names: what their results must be, whose they are.
SELECT d.id, d.result_kind, d.thing_id, t.provider_id
FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
WHERE d.id = ANY(%(ids)s)
