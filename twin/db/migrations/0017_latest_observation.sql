-- The latest Observation of each Datastream whole on the Datastream row, beside latest_time,
-- latest_number and latest_json (0011): its id, interval end, result time, quality, valid
-- time, parameters and FeatureOfInterest. "The latest value of 44,000 lamps"
-- ($expand=Observations($top=1;$orderby=phenomenonTime desc), twin.sensors.read) then reads
-- one small table instead of probing a day partition per Datastream; the ingest
-- (sensors/update_latest) and an edit or deletion (sensors/refresh_latest) keep it.

ALTER TABLE sta_datastreams
    ADD COLUMN IF NOT EXISTS latest_id bigint,
    ADD COLUMN IF NOT EXISTS latest_end timestamptz,
    ADD COLUMN IF NOT EXISTS latest_result_time timestamptz,
    ADD COLUMN IF NOT EXISTS latest_quality jsonb,
    ADD COLUMN IF NOT EXISTS latest_valid_start timestamptz,
    ADD COLUMN IF NOT EXISTS latest_valid_end timestamptz,
    ADD COLUMN IF NOT EXISTS latest_parameters jsonb,
    ADD COLUMN IF NOT EXISTS latest_feature_id bigint;

UPDATE sta_datastreams d SET
    latest_id = o.id,
    latest_end = o.phenomenon_time_end,
    latest_result_time = o.result_time,
    latest_quality = o.result_quality,
    latest_valid_start = o.valid_start,
    latest_valid_end = o.valid_end,
    latest_parameters = o.parameters,
    latest_feature_id = o.feature_of_interest_id
FROM sta_observations o
WHERE o.datastream_id = d.id AND o.phenomenon_time = d.latest_time AND d.latest_id IS NULL;
