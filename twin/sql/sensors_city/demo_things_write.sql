-- The demo's Things, each with its Location (and the HistoricalLocation that records it, as
-- SensorThings does when a Thing gets a Location) and one Datastream; ids drawn first so the
-- tables are written in one statement. Returns (n, datastream id) in the input's order.
WITH ids AS MATERIALIZED (
    SELECT t.*,
           nextval(pg_get_serial_sequence('sta_things', 'id')) AS thing_id,
           nextval(pg_get_serial_sequence('sta_locations', 'id')) AS location_id,
           nextval(pg_get_serial_sequence('sta_datastreams', 'id')) AS datastream_id,
           nextval(pg_get_serial_sequence('sta_historical_locations', 'id')) AS history_id
    FROM demo_things t
), things AS (
    INSERT INTO sta_things (id, name, description, properties, provider_id, layer, feature_id,
                            district)
    SELECT thing_id, name, description, properties, provider_id, layer, feature_id, district
    FROM ids
), locations AS (
    INSERT INTO sta_locations (id, name, description, location)
    SELECT location_id, name, description, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM ids
), links AS (
    INSERT INTO sta_thing_locations (thing_id, location_id)
    SELECT thing_id, location_id FROM ids
), history AS (
    INSERT INTO sta_historical_locations (id, thing_id, time)
    SELECT history_id, thing_id, now() FROM ids
), located AS (
    INSERT INTO sta_location_history (historical_location_id, location_id)
    SELECT history_id, location_id FROM ids
), streams AS (
    INSERT INTO sta_datastreams (id, name, description, observation_type, result_kind,
                                 unit_of_measurement, observed_area, properties, thing_id,
                                 sensor_id, observed_property_id)
    SELECT datastream_id, stream_name, stream_name || ' of ' || name, observation_type,
           result_kind, unit, ST_SetSRID(ST_MakePoint(lon, lat), 4326), stream_properties,
           thing_id, sensor_id, observed_property
    FROM ids
)
SELECT n, datastream_id FROM ids ORDER BY n;
