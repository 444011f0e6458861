-- Whether the sensors layer holds the Things there are (same count, same newest Thing): then a
-- refresh only moves the values (refresh_sensor_values), else it rewrites the layer. And the
-- layer's row count.
SELECT (SELECT count(*) FROM sensors) = (SELECT count(DISTINCT thing_id) FROM sta_thing_locations)
   AND (SELECT max(thing) FROM sensors) IS NOT DISTINCT FROM
       (SELECT max(thing_id) FROM sta_thing_locations),
       (SELECT count(*) FROM sensors);
