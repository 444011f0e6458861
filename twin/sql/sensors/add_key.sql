INSERT INTO sta_keys (key_id, label, provider_id, thing_id, key_salt, key_hash)
VALUES (%(key_id)s, %(label)s, %(provider_id)s, %(thing_id)s, %(salt)s, %(hash)s)
