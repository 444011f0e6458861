SELECT name, role, layers, key_salt, key_hash FROM twin_users
WHERE key_id = %(key_id)s AND revoked_at IS NULL
