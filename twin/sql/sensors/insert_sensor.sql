INSERT INTO sta_sensors (name, description, encoding_type, metadata, properties)
VALUES (%(name)s, %(description)s, %(encoding_type)s, %(metadata)s, %(properties)s)
RETURNING id
