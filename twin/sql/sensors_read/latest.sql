-- The latest Observation of a Datastream, as its JSON in a one-element array, inline in the
-- Datastream's row ($expand=Observations($top=1;$orderby=phenomenonTime desc)): the Datastream
-- knows its latest time (sta_datastreams.latest_time, kept by the ingest), so this is one
-- primary-key probe in one day partition, not a search of the Datastream's history.
(SELECT json_build_array({observation})
 FROM sta_observations AS {o}
 WHERE {o}.datastream_id = {t}.id AND {o}.phenomenon_time = {t}.latest_time
 LIMIT 1)
