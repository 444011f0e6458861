SELECT id FROM sta_features_of_interest WHERE id = ANY(%(ids)s)
