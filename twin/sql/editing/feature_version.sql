SELECT coalesce(max(version), 0) FROM twin_history WHERE layer = %(layer)s AND feature_id = %(id)s
