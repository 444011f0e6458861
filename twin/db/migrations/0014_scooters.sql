-- Scooter operations (twin/scooters, docs/scooters.md): the operators' GBFS v3 feeds polled on
-- a schedule, every poll's outcome, and the vehicles' positions over time.
--
-- Positions are the one large table: one row per vehicle and poll (15,000 vehicles a poll at
-- city scale), partitioned by poll time (one partition per day, made on demand by
-- scooter_position_partition; a DEFAULT partition catches nothing the ingest lets through)
-- with a BRIN index on the time in every partition, like the SensorThings observations
-- (0011_sensors.sql). The primary key (operator, polled_at, vehicle_id) makes a vehicle twice
-- in one poll a conflict. The latest poll of each operator is also copied into scooter_latest
-- (its rows replaced by a second COPY of the same rows), so "where are the scooters now" reads
-- one small table. A poll is one transaction: a refused feed writes only its outcome row.

CREATE TABLE IF NOT EXISTS scooter_operators (
    name          text PRIMARY KEY,
    url           text NOT NULL,              -- the operator's gbfs.json (auto-discovery)
    enabled       boolean NOT NULL DEFAULT true,
    added_at      timestamptz NOT NULL DEFAULT now(),
    next_poll_at  timestamptz NOT NULL DEFAULT now(),
    failures      integer NOT NULL DEFAULT 0, -- polls failed in a row (the back-off grows)
    last_ok_at    timestamptz
);

CREATE TABLE IF NOT EXISTS scooter_polls (
    id          bigserial PRIMARY KEY,
    operator    text NOT NULL,
    polled_at   timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('stored', 'rejected', 'unreachable')),
    reason      text,                           -- broken_json, schema_invalid, stale, ...
    details     jsonb NOT NULL DEFAULT '[]',    -- the problems found, listed (first ones)
    vehicles    integer NOT NULL DEFAULT 0,
    stations    integer NOT NULL DEFAULT 0,
    duration_ms double precision
);
CREATE INDEX IF NOT EXISTS scooter_polls_operator ON scooter_polls (operator, polled_at DESC);

CREATE TABLE IF NOT EXISTS scooter_positions (
    operator     text NOT NULL,
    vehicle_id   text NOT NULL,
    polled_at    timestamptz NOT NULL,
    geom         geometry(Point, 4326) NOT NULL,
    vehicle_type text,
    is_reserved  boolean NOT NULL,
    is_disabled  boolean NOT NULL,
    station_id   text,
    parking_id   bigint,    -- the scooter_parking spot it stands at (NULL: left outside)
    zone_id      bigint,    -- the scooter_zones zone it stands in, if any
    district     text,
    PRIMARY KEY (operator, polled_at, vehicle_id)
) PARTITION BY RANGE (polled_at);

CREATE TABLE IF NOT EXISTS scooter_positions_default
    PARTITION OF scooter_positions DEFAULT;

-- The day's partition of the positions (made when first needed), with its BRIN index.
CREATE OR REPLACE FUNCTION scooter_position_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('scooter_positions_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF scooter_positions '
            'FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
        EXECUTE format('CREATE INDEX %I ON %I USING brin (polled_at)', part || '_time', part);
    END IF;
    RETURN part;
END $$;

CREATE TABLE IF NOT EXISTS scooter_latest (
    operator     text NOT NULL,
    vehicle_id   text NOT NULL,
    polled_at    timestamptz NOT NULL,
    geom         geometry(Point, 4326) NOT NULL,
    vehicle_type text,
    is_reserved  boolean NOT NULL,
    is_disabled  boolean NOT NULL,
    station_id   text,
    parking_id   bigint,
    zone_id      bigint,
    district     text,
    PRIMARY KEY (operator, vehicle_id)
);
-- no spatial index: "now" is read by parking spot, zone and district, and a GiST index
-- would double the cost of replacing an operator's rows every poll

-- What each operator's own feeds say besides positions (the latest poll's, replaced per poll).
CREATE TABLE IF NOT EXISTS scooter_vehicle_types (
    operator        text NOT NULL,
    vehicle_type_id text NOT NULL,
    form_factor     text NOT NULL,
    propulsion_type text NOT NULL,
    max_range_m     double precision,
    document        jsonb NOT NULL,
    PRIMARY KEY (operator, vehicle_type_id)
);

CREATE TABLE IF NOT EXISTS scooter_station_status (
    operator               text NOT NULL,
    station_id             text NOT NULL,
    polled_at              timestamptz NOT NULL,
    num_vehicles_available integer NOT NULL,
    num_vehicles_disabled  integer,
    is_renting             boolean NOT NULL,
    is_returning           boolean NOT NULL,
    PRIMARY KEY (operator, station_id)
);

CREATE TABLE IF NOT EXISTS scooter_operator_zones (
    operator text NOT NULL,
    position integer NOT NULL,      -- the feature's place in the operator's feed
    name     text,
    rules    jsonb NOT NULL,
    geom     geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (operator, position)
);

-- Hourly sums the derived layers (parking_disorder, key_section_occupancy) are made from:
-- each stored poll adds its counts (per operator, district and zone; zone 0: in none), so an
-- hour's figures never rescan the hour's positions. polls counts an operator's polls of the hour.
CREATE TABLE IF NOT EXISTS scooter_hourly (
    hour      timestamptz NOT NULL,
    operator  text NOT NULL,
    district  text NOT NULL DEFAULT '',
    zone_id   bigint NOT NULL DEFAULT 0,
    standing  bigint NOT NULL,     -- vehicles not reserved, summed over the hour's polls
    outside   bigint NOT NULL,     -- ... of them farther than the parking radius from a spot
    PRIMARY KEY (hour, operator, district, zone_id)
);

CREATE TABLE IF NOT EXISTS scooter_hourly_polls (
    hour     timestamptz NOT NULL,
    operator text NOT NULL,
    polls    integer NOT NULL,
    PRIMARY KEY (hour, operator)
);
