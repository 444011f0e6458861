-- What the feed in use holds: rows per table, and routes and stops per mode.
SELECT (SELECT count(*) FROM gtfs_routes) AS routes,
       (SELECT count(*) FROM gtfs_trips) AS trips,
       (SELECT count(*) FROM gtfs_stops) AS stops,
       (SELECT count(*) FROM gtfs_stop_times) AS stop_times,
       (SELECT coalesce(jsonb_object_agg(mode, n), '{{}}'::jsonb)
          FROM (SELECT mode, count(*) AS n FROM gtfs_routes GROUP BY mode) r) AS routes_by_mode,
       (SELECT coalesce(jsonb_object_agg(mode, n), '{{}}'::jsonb)
          FROM (SELECT mode, count(*) AS n FROM gtfs_stops GROUP BY mode) s) AS stops_by_mode
