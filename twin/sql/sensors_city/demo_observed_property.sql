-- A demo ObservedProperty, defined by a URI.
INSERT INTO sta_observed_properties (name, definition, description)
VALUES (%(name)s, %(definition)s, %(description)s)
RETURNING id;
