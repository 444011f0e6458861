SELECT id FROM sta_providers WHERE name = %(name)s
