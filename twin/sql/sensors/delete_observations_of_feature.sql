DELETE FROM sta_observations WHERE feature_of_interest_id = %(id)s
