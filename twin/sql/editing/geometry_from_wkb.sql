{multi}(ST_SetSRID(ST_GeomFromWKB(%(geometry)s), %(srid)s))
