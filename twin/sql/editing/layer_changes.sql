SELECT change_id, feature_id, version, operation, actor, changed_at
FROM twin_history
WHERE layer = %(layer)s AND changed_at >= %(start)s AND changed_at <= %(end)s
ORDER BY change_id DESC
LIMIT %(limit)s
