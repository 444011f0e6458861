INSERT INTO sta_observed_properties (name, definition, description, properties)
VALUES (%(name)s, %(definition)s, %(description)s, %(properties)s)
RETURNING id
