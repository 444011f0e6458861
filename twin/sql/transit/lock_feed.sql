-- An import holds the timetable still: a second import waits, the engine reads the old feed.
LOCK TABLE gtfs_feed, gtfs_stops, gtfs_routes, gtfs_trips, gtfs_stop_times, gtfs_calendar,
    gtfs_calendar_dates IN EXCLUSIVE MODE
