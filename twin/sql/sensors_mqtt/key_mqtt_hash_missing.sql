-- A key made before 0019 gets its MQTT password hash when it is next used over HTTP (the twin
-- sees it in plain then); once only, whichever of two concurrent requests comes first.
UPDATE sta_keys SET mqtt_hash = %(hash)s
WHERE key_id = %(key_id)s AND mqtt_hash IS NULL AND revoked_at IS NULL
RETURNING key_id
