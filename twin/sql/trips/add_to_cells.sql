-- A batch's counts added to the trip_cells rows stored already (by id).
UPDATE trip_cells AS c
SET origins = c.origins + u.origins,
    destinations = c.destinations + u.destinations,
    routes = c.routes + u.routes,
    synthetic = c.synthetic OR %(synthetic)s
FROM unnest(%(ids)s::bigint[], %(origins)s::int[], %(destinations)s::int[], %(routes)s::int[])
    AS u (id, origins, destinations, routes)
WHERE c.id = u.id
