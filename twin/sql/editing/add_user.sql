INSERT INTO twin_users (name, role, layers, key_id, key_salt, key_hash)
VALUES (%(name)s, %(role)s, %(layers)s, %(key_id)s, %(salt)s, %(hash)s)
ON CONFLICT (name) DO UPDATE
    SET role = EXCLUDED.role, layers = EXCLUDED.layers, key_id = EXCLUDED.key_id,
        key_salt = EXCLUDED.key_salt, key_hash = EXCLUDED.key_hash,
        created_at = now(), revoked_at = NULL
    WHERE twin_users.revoked_at IS NOT NULL
RETURNING name
