-- A demo Sensor (the kind of device: its datasheet's name and metadata).
INSERT INTO sta_sensors (name, description, encoding_type, metadata, properties)
VALUES (%(name)s, %(description)s, 'text/html', %(metadata)s, %(properties)s)
RETURNING id;
