-- An active sensor key, and whether it still lacks its MQTT password (made before 0019).
SELECT label, provider_id, thing_id, key_salt, key_hash, mqtt_hash IS NULL FROM sta_keys
WHERE key_id = %(key_id)s AND revoked_at IS NULL
