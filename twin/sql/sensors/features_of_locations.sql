-- The FeatureOfInterest of each Datastream's Thing's Location (its first, when several), made
-- from the Location the first time it is needed. Datastreams of a Thing without a Location
-- have none.
WITH located AS (
    SELECT d.id AS datastream_id, min(tl.location_id) AS location_id
    FROM sta_datastreams d JOIN sta_thing_locations tl ON tl.thing_id = d.thing_id
    WHERE d.id = ANY(%(ids)s)
    GROUP BY d.id
), made AS (
    INSERT INTO sta_features_of_interest (name, description, encoding_type, feature, location_id)
    SELECT l.name, l.description, l.encoding_type, l.location, l.id
    FROM sta_locations l
    WHERE l.id IN (SELECT location_id FROM located)
      AND NOT EXISTS (SELECT 1 FROM sta_features_of_interest f WHERE f.location_id = l.id)
    ON CONFLICT (location_id) DO NOTHING
    RETURNING id, location_id
)
SELECT located.datastream_id, COALESCE(made.id, f.id)
FROM located
LEFT JOIN made USING (location_id)
LEFT JOIN sta_features_of_interest f ON f.location_id = located.location_id
