SELECT version, operation, actor, changed_at, previous, current
FROM twin_history
WHERE layer = %(layer)s AND feature_id = %(id)s AND version = %(version)s
