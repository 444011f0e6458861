-- The Datastream a series is of: is it there, and its unit's symbol for the chart.
SELECT id, unit_of_measurement ->> 'symbol' FROM sta_datastreams WHERE id = %(id)s
