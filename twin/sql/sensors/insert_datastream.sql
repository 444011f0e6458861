INSERT INTO sta_datastreams (
    name, description, observation_type, result_kind, unit_of_measurement, observed_area,
    properties, thing_id, sensor_id, observed_property_id
)
VALUES (%(name)s, %(description)s, %(observation_type)s, %(result_kind)s,
        %(unit_of_measurement)s,
        ST_SetSRID(ST_GeomFromGeoJSON(%(observed_area)s), 4326),
        %(properties)s, %(thing_id)s, %(sensor_id)s, %(observed_property_id)s)
RETURNING id
