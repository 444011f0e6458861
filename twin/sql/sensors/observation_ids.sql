-- @iot.ids for a batch of Observations, in the batch's order.
SELECT nextval('sta_observations_id') FROM generate_series(1, %(n)s)
