-- Scooter trips (MDS Provider trips, twin/scooters/trips.py). Crashes and their hotspots are
-- catalog layers (layers/crashes.yml, crash_hotspots.yml).
--
-- Trips are the one large table of micromobility: up to 100 thousand a day. They are
-- partitioned by start time (one partition per day, made on demand by scooter_trip_partition,
-- with a BRIN index on the start time), so a day's aggregates read one partition and old days
-- are dropped whole. The primary key (trip_id, start_time) keeps a trip once; the ingest also
-- refuses a trip id already stored within a day of its start. start_h3/end_h3 are the H3 cells
-- (resolution 9, as integers) of the ends and route_h3 the cells the route passes, computed at
-- ingest, so the hourly H3 aggregates (layer trip_cells) are one SQL GROUP BY.

CREATE TABLE IF NOT EXISTS scooter_trips (
    trip_id        text NOT NULL,
    provider_id    text NOT NULL,
    provider_name  text NOT NULL DEFAULT '',
    device_id      text NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz NOT NULL,
    start_location geometry(Point, 4326) NOT NULL,
    end_location   geometry(Point, 4326) NOT NULL,
    route          geometry(LineString, 4326),
    distance_m     double precision NOT NULL,
    duration_s     double precision NOT NULL,
    start_h3       bigint NOT NULL,
    end_h3         bigint NOT NULL,
    route_h3       bigint[] NOT NULL,
    synthetic      boolean NOT NULL DEFAULT false,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trip_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE TABLE IF NOT EXISTS scooter_trips_default PARTITION OF scooter_trips DEFAULT;

-- The day's partition of the trips (made when first needed), with its BRIN index.
CREATE OR REPLACE FUNCTION scooter_trip_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('scooter_trips_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF scooter_trips FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
        EXECUTE format('CREATE INDEX %I ON %I USING brin (start_time)', part || '_time', part);
    END IF;
    RETURN part;
END $$;
