-- Every stored stop of the feed in use with all its columns (twin.transit.figures: the
-- step-free rule reads wheelchair_boarding where the stored feed keeps it).
SELECT * FROM gtfs_stops ORDER BY stop_id
