-- Live sensors: the entities of OGC SensorThings API 1.1 (twin/sensors), served at /sta/v1.1/.
--
-- The entity tables follow the standard's data model one to one (names in snake_case); ids are
-- bigints (the @iot.id). A Thing may be linked to a feature of one of the twin's layers
-- (layer + feature_id: a lamp to its lighting line, a meter to its utility facility, an air
-- sensor to its district), and belongs to a data provider (whose key may post for it).
--
-- Observations are the one large table: partitioned by phenomenon time (one partition per day,
-- made on demand by sta_observation_partition; a DEFAULT partition catches nothing the ingest
-- lets through), a BRIN index on the time in every partition, and the primary key
-- (datastream_id, phenomenon_time) that makes a duplicate time of a Datastream a conflict and a
-- Datastream's day one index range. Numbers live in result_number (cheap aggregates), other
-- results in result_json. The latest value of each Datastream is kept on the Datastream row
-- (latest_*), updated by the ingest only when newer, so "latest of 44,000 lamps" reads one
-- small table. Hourly aggregates (sta_observations_hourly) outlive the raw partitions that
-- retention drops (docs/sensors.md states the periods).

CREATE TABLE IF NOT EXISTS sta_providers (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS sta_things (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    properties  jsonb,
    provider_id bigint REFERENCES sta_providers (id),
    layer       text,        -- the twin's layer the Thing belongs to (lighting, utility, ...)
    feature_id  text,        -- that layer's feature id
    district    text
);
CREATE INDEX IF NOT EXISTS sta_things_layer ON sta_things (layer, feature_id);

CREATE TABLE IF NOT EXISTS sta_locations (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'application/geo+json',
    location      geometry(Geometry, 4326) NOT NULL,
    properties    jsonb
);
CREATE INDEX IF NOT EXISTS sta_locations_geom ON sta_locations USING gist (location);

CREATE TABLE IF NOT EXISTS sta_thing_locations (
    thing_id    bigint NOT NULL REFERENCES sta_things (id) ON DELETE CASCADE,
    location_id bigint NOT NULL REFERENCES sta_locations (id) ON DELETE CASCADE,
    PRIMARY KEY (thing_id, location_id)
);

CREATE TABLE IF NOT EXISTS sta_historical_locations (
    id       bigserial PRIMARY KEY,
    thing_id bigint NOT NULL REFERENCES sta_things (id) ON DELETE CASCADE,
    time     timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sta_location_history (
    historical_location_id bigint NOT NULL
        REFERENCES sta_historical_locations (id) ON DELETE CASCADE,
    location_id            bigint NOT NULL REFERENCES sta_locations (id) ON DELETE CASCADE,
    PRIMARY KEY (historical_location_id, location_id)
);

CREATE TABLE IF NOT EXISTS sta_sensors (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'application/pdf',
    metadata      text NOT NULL DEFAULT '',
    properties    jsonb
);

CREATE TABLE IF NOT EXISTS sta_observed_properties (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    definition  text NOT NULL,
    description text NOT NULL DEFAULT '',
    properties  jsonb
);

CREATE TABLE IF NOT EXISTS sta_datastreams (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL,
    description          text NOT NULL DEFAULT '',
    observation_type     text NOT NULL,
    -- what a result must be, from observation_type: number (OM_Measurement, OM_CountObservation),
    -- boolean (OM_TruthObservation), text (OM_CategoryObservation), json (OM_Observation)
    result_kind          text NOT NULL CHECK (result_kind IN ('number', 'boolean', 'text', 'json')),
    unit_of_measurement  jsonb NOT NULL DEFAULT '{}'::jsonb,
    observed_area        geometry(Geometry, 4326),
    properties           jsonb,
    thing_id             bigint NOT NULL REFERENCES sta_things (id) ON DELETE CASCADE,
    sensor_id            bigint NOT NULL REFERENCES sta_sensors (id),
    observed_property_id bigint NOT NULL REFERENCES sta_observed_properties (id),
    phenomenon_start     timestamptz,
    phenomenon_end       timestamptz,
    latest_time          timestamptz,
    latest_number        double precision,
    latest_json          jsonb
);
CREATE INDEX IF NOT EXISTS sta_datastreams_thing ON sta_datastreams (thing_id);
CREATE INDEX IF NOT EXISTS sta_datastreams_property ON sta_datastreams (observed_property_id);

CREATE TABLE IF NOT EXISTS sta_features_of_interest (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    encoding_type text NOT NULL DEFAULT 'application/geo+json',
    feature       geometry(Geometry, 4326) NOT NULL,
    properties    jsonb
);

CREATE SEQUENCE IF NOT EXISTS sta_observations_id;

CREATE TABLE IF NOT EXISTS sta_observations (
    id                     bigint NOT NULL DEFAULT nextval('sta_observations_id'),
    datastream_id          bigint NOT NULL,
    phenomenon_time        timestamptz NOT NULL,
    phenomenon_time_end    timestamptz,             -- an interval's end, else NULL
    result_time            timestamptz,
    result_number          double precision,
    result_json            jsonb,                   -- booleans, text and JSON results
    result_quality         jsonb,
    valid_start            timestamptz,
    valid_end              timestamptz,
    parameters             jsonb,
    feature_of_interest_id bigint,
    received_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (datastream_id, phenomenon_time)
) PARTITION BY RANGE (phenomenon_time);

CREATE TABLE IF NOT EXISTS sta_observations_default
    PARTITION OF sta_observations DEFAULT;

-- The day's partition of the observations (made when first needed), with its BRIN index.
CREATE OR REPLACE FUNCTION sta_observation_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('sta_observations_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF sta_observations '
            'FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
        EXECUTE format('CREATE INDEX %I ON %I USING brin (phenomenon_time)',
                       part || '_time', part);
    END IF;
    RETURN part;
END $$;

CREATE TABLE IF NOT EXISTS sta_observations_hourly (
    datastream_id bigint NOT NULL REFERENCES sta_datastreams (id) ON DELETE CASCADE,
    hour          timestamptz NOT NULL,
    n             integer NOT NULL,
    mean          double precision,
    min           double precision,
    max           double precision,
    PRIMARY KEY (datastream_id, hour)
);
