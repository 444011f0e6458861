{multi}(ST_SetSRID(ST_GeomFromGeoJSON(%(geometry)s), %(srid)s))
