-- The sensors layer: every Thing with a Location as a point, with its first Datastream's
-- latest value (a lamp: 1 lit, 0 off) and time, read from the Datastream rows (latest_*).
INSERT INTO sensors (geom, name, kind, provider, district, linked_layer, feature_id, thing,
                     datastream, value, unit, observed_at)
SELECT DISTINCT ON (t.id)
       ST_PointOnSurface(l.location), t.name,
       coalesce(d.properties -> 'simulation' ->> 'kind', 'other'), p.name, t.district, t.layer,
       t.feature_id, t.id, d.id,
       CASE WHEN d.latest_number IS NOT NULL THEN d.latest_number
            WHEN d.latest_json = 'true'::jsonb THEN 1.0
            WHEN d.latest_json = 'false'::jsonb THEN 0.0 END,
       nullif(d.unit_of_measurement ->> 'symbol', ''), d.latest_time
FROM sta_things t
JOIN sta_thing_locations tl ON tl.thing_id = t.id
JOIN sta_locations l ON l.id = tl.location_id
LEFT JOIN sta_datastreams d ON d.thing_id = t.id
LEFT JOIN sta_providers p ON p.id = t.provider_id
ORDER BY t.id, d.id, l.id DESC;
