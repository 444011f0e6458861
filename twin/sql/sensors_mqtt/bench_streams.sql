-- The Datastreams of a provider's Things, in id order (`twin bench sensors`).
SELECT d.id
  FROM sta_datastreams d
  JOIN sta_things t ON t.id = d.thing_id
  JOIN sta_providers p ON p.id = t.provider_id
 WHERE p.name = %(provider)s
 ORDER BY d.id
