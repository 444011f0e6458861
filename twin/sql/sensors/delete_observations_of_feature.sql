-- Its Observations, with what the aggregates and the latest values of their Datastreams need.
DELETE FROM sta_observations WHERE feature_of_interest_id = %(id)s
RETURNING datastream_id, phenomenon_time, result_number IS NOT NULL
