DELETE FROM sta_observations_hourly WHERE hour < %(before)s
