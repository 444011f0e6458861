-- The broker's accounts: each active sensor key with its MQTT hash, and the Datastreams it may
-- publish Observations to (its provider's Things', or its one Thing's).
SELECT k.key_id,
       k.mqtt_hash,
       coalesce(array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), ARRAY[]::bigint[])
  FROM sta_keys k
  LEFT JOIN sta_things t ON t.id = k.thing_id OR t.provider_id = k.provider_id
  LEFT JOIN sta_datastreams d ON d.thing_id = t.id
 WHERE k.revoked_at IS NULL AND k.mqtt_hash IS NOT NULL
 GROUP BY k.key_id, k.mqtt_hash
 ORDER BY k.key_id
