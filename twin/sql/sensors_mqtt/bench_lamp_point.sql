-- Where the demo's lamps are thickest, roughly: the median lamp position (`twin bench sensors`
-- times a tile there).
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_X(l.location)),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_Y(l.location))
  FROM sta_locations l
  JOIN sta_thing_locations tl ON tl.location_id = l.id
  JOIN sta_datastreams d ON d.thing_id = tl.thing_id
 WHERE d.properties -> 'simulation' ->> 'kind' = 'lamp'
