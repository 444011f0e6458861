SELECT 1 FROM sta_things WHERE id = %(id)s
