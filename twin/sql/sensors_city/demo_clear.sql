-- Before the demo installs its sensors: remove the Things of the demo's providers (their
-- Locations, Datastreams and Observations with them) and the demo's Sensors and properties.
WITH gone AS (
    SELECT d.id
    FROM sta_datastreams d
    JOIN sta_things t ON t.id = d.thing_id
    JOIN sta_providers p ON p.id = t.provider_id
    WHERE p.name = ANY(%(providers)s)
), observations AS (
    DELETE FROM sta_observations o USING gone WHERE o.datastream_id = gone.id
), locations AS (
    DELETE FROM sta_locations l
    USING sta_thing_locations tl, sta_things t, sta_providers p
    WHERE tl.location_id = l.id AND t.id = tl.thing_id AND p.id = t.provider_id
      AND p.name = ANY(%(providers)s)
)
DELETE FROM sta_things t USING sta_providers p
WHERE p.id = t.provider_id AND p.name = ANY(%(providers)s);
