-- The demo's Sensors and ObservedProperties no Datastream uses any more.
WITH sensors AS (
    DELETE FROM sta_sensors s
    WHERE s.name = ANY(%(sensors)s)
      AND NOT EXISTS (SELECT 1 FROM sta_datastreams d WHERE d.sensor_id = s.id)
)
DELETE FROM sta_observed_properties o
WHERE o.definition = ANY(%(definitions)s)
  AND NOT EXISTS (SELECT 1 FROM sta_datastreams d WHERE d.observed_property_id = o.id);
