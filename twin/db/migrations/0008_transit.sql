-- The public transport timetable (twin/transit): the one GTFS feed in use, as the engine reads
-- it back (twin.transit.store.timetable_frames -> twin.transit.frames.TimetableFrames).
--
-- One feed at a time: `twin import-gtfs` (and the demo load) empties these tables and fills
-- them again in the transaction that also rewrites the layers transit_routes and
-- transit_stops, so a refused or failed import leaves the previous feed whole. gtfs_feed holds
-- that feed's one row (name, provenance, service days, warnings). Times are integer seconds
-- after midnight of the service day, up to 48:00:00 (a trip may run past midnight). The
-- importer checks the references (twin/transit/gtfs.py); the keys below are its last guard.

CREATE TABLE IF NOT EXISTS gtfs_feed (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    name           text NOT NULL,
    file           text,
    sha256         text,
    source         text NOT NULL,
    licence        text NOT NULL,
    synthetic      boolean NOT NULL DEFAULT false,
    imported_at    timestamptz NOT NULL DEFAULT now(),
    service_start  date NOT NULL,
    service_end    date NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS gtfs_stops (
    stop_id    text PRIMARY KEY,
    stop_name  text,
    lon        double precision NOT NULL,
    lat        double precision NOT NULL,
    mode       text NOT NULL
);

CREATE TABLE IF NOT EXISTS gtfs_routes (
    route_id    text PRIMARY KEY,
    short_name  text,
    long_name   text,
    route_type  integer NOT NULL,
    mode        text NOT NULL
);

CREATE TABLE IF NOT EXISTS gtfs_trips (
    trip_id       text PRIMARY KEY,
    route_id      text NOT NULL,
    service_id    text NOT NULL,
    direction_id  smallint NOT NULL DEFAULT 0,
    shape_id      text
);
CREATE INDEX IF NOT EXISTS gtfs_trips_route ON gtfs_trips (route_id);

CREATE TABLE IF NOT EXISTS gtfs_stop_times (
    trip_id        text NOT NULL,
    stop_sequence  integer NOT NULL,
    stop_id        text NOT NULL,
    arrival_s      integer NOT NULL CHECK (arrival_s BETWEEN 0 AND 172800),
    departure_s    integer NOT NULL CHECK (departure_s BETWEEN arrival_s AND 172800),
    PRIMARY KEY (trip_id, stop_sequence)
);

CREATE TABLE IF NOT EXISTS gtfs_calendar (
    service_id  text PRIMARY KEY,
    monday      boolean NOT NULL,
    tuesday     boolean NOT NULL,
    wednesday   boolean NOT NULL,
    thursday    boolean NOT NULL,
    friday      boolean NOT NULL,
    saturday    boolean NOT NULL,
    sunday      boolean NOT NULL,
    start_date  date NOT NULL,
    end_date    date NOT NULL
);

CREATE TABLE IF NOT EXISTS gtfs_calendar_dates (
    service_id      text NOT NULL,
    date            date NOT NULL,
    exception_type  smallint NOT NULL CHECK (exception_type IN (1, 2)),
    PRIMARY KEY (service_id, date)
);
