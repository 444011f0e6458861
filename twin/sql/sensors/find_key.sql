SELECT label, provider_id, thing_id, key_salt, key_hash FROM sta_keys
WHERE key_id = %(key_id)s AND revoked_at IS NULL
