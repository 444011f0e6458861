-- The overview rows (alias o) of a dated tile whose feature's own time had not begun by the
-- window's end (the layer's `temporal:` after it): found through the layer's GiST index within
-- the tile, so only the few features of the tile that are not there yet are left out.
o.id NOT IN (SELECT l.id FROM {table} AS l
             WHERE l.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                                                          margin => 0.015625), {srid})
               AND NOT {own_time})
