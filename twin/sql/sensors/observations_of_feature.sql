-- The Datastreams with Observations of a FeatureOfInterest (locked before these are deleted).
SELECT DISTINCT datastream_id FROM sta_observations WHERE feature_of_interest_id = %(id)s
