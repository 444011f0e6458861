-- The demo's simulated Datastreams (properties.simulation set by the demo), for the model.
SELECT d.id, d.thing_id, d.properties -> 'simulation' ->> 'kind',
       ST_X(ST_Centroid(d.observed_area)), ST_Y(ST_Centroid(d.observed_area)), t.district,
       d.properties -> 'simulation'
FROM sta_datastreams d
JOIN sta_things t ON t.id = d.thing_id
WHERE d.properties ? 'simulation' AND d.observed_area IS NOT NULL
ORDER BY d.id;
