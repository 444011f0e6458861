-- `twin bench sensors`: the benchmark's own Things and number Datastreams (its provider's),
-- so that its load never touches the demo's sensors.
WITH s AS (
    INSERT INTO sta_sensors (name, description)
    VALUES ('twin bench sensor', 'synthetic load of twin bench sensors') RETURNING id
), op AS (
    INSERT INTO sta_observed_properties (name, definition, description)
    VALUES ('twin bench value', 'https://example.org/twin-bench', 'synthetic') RETURNING id
), t AS (
    INSERT INTO sta_things (name, description, provider_id, properties)
    SELECT 'twin bench ' || g, 'synthetic load', %(provider)s,
           jsonb_build_object('bench', true)
      FROM generate_series(1, %(n)s) g
    RETURNING id
)
INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, sensor_id,
                             observed_property_id, unit_of_measurement)
SELECT 'twin bench ' || t.id,
       'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement', 'number',
       t.id, s.id, op.id, jsonb_build_object('name', 'unit', 'symbol', '1')
  FROM t, s, op
