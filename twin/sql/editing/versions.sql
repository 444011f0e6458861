SELECT version, operation, actor, changed_at, previous IS NOT NULL, current IS NOT NULL
FROM twin_history
WHERE layer = %(layer)s AND feature_id = %(id)s
ORDER BY version
