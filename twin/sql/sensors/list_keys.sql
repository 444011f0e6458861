SELECT k.key_id, k.label, p.name, k.thing_id, k.created_at, k.revoked_at
FROM sta_keys k LEFT JOIN sta_providers p ON p.id = k.provider_id
ORDER BY k.created_at
