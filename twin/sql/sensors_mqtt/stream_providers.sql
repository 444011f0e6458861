-- Each Datastream's data provider (the simulator posts each provider's batch with its key).
SELECT d.id, p.name
  FROM sta_datastreams d
  JOIN sta_things t ON t.id = d.thing_id
  LEFT JOIN sta_providers p ON p.id = t.provider_id
 WHERE d.id = ANY(%(ids)s)
