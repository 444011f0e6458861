-- A sensor key's MQTT password hash (mosquitto's $7$ PBKDF2-SHA512 form), made with the key.
UPDATE sta_keys SET mqtt_hash = %(hash)s WHERE key_id = %(key_id)s
