SELECT min(phenomenon_time) FROM sta_observations
