-- One feed at a time: the old one goes in the transaction that brings the new one.
TRUNCATE gtfs_feed, gtfs_stops, gtfs_routes, gtfs_trips, gtfs_stop_times, gtfs_calendar,
    gtfs_calendar_dates
