SELECT name, role, layers, key_id, created_at, revoked_at FROM twin_users ORDER BY name
