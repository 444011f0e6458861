INSERT INTO terrain_models (crs, width, height, resolution_m, bounds, min_elevation,
                            max_elevation, cog)
VALUES (%(crs)s, %(width)s, %(height)s, %(resolution_m)s,
        ST_Transform(ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 32643), 4326),
        %(min_elevation)s, %(max_elevation)s, %(cog)s)
RETURNING id
