UPDATE twin_import_keys SET g = {multi}(ST_SetSRID(g, %(srid)s))
