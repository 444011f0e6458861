SELECT EXISTS (SELECT 1 FROM twin_history WHERE layer = %(layer)s)
