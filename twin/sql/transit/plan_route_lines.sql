-- The feed's routes as drawn (transit_routes): a plan's new stop must lie near its route's line.
SELECT route_id, mode, coalesce(short_name, route_id), ST_AsBinary(geom) FROM transit_routes
