-- `twin bench mobility_ops`'s peer: a trip_cells tile of one hour straight from SQL.
SELECT ST_AsMVT(t, 'trip_cells') FROM (
    SELECT h3, hour, origins, destinations, routes,
           ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s)) AS geom
    FROM trip_cells
    WHERE hour = %(hour)s
      AND geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326)
) AS t
