-- The names a journey's legs show (twin.processes.route): its stops and its routes.
SELECT 'stop', stop_id, stop_name, mode FROM gtfs_stops WHERE stop_id = ANY(%(stops)s)
UNION ALL
SELECT 'route', route_id, coalesce(short_name, long_name, route_id), mode
FROM gtfs_routes WHERE route_id = ANY(%(routes)s)
