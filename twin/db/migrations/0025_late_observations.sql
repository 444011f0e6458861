-- Late Observations reach the hourly aggregates (issue #20, twin/sensors/retention.py).
--
-- Retention aggregates closed hours up to its mark (sta_retention.aggregated_until) and, on
-- its next run, again from a day before it. An Observation arriving later than that for an
-- hour already aggregated is noted here by the ingest, one row per (Datastream, hour), in
-- the batch's transaction and in one statement; the next retention run aggregates exactly
-- those hours again from their raw rows and clears the notes it has used, in the transaction
-- of its other aggregates. A raw day is dropped only together with its notes (the whole day
-- aggregated again first). `noted` counts the batches that noted the hour: a note touched
-- while retention reads it stays for the next run.
CREATE TABLE IF NOT EXISTS sta_late_hours (
    datastream_id bigint NOT NULL REFERENCES sta_datastreams (id) ON DELETE CASCADE,
    hour          timestamptz NOT NULL,
    noted         bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (datastream_id, hour)
);

-- The ingest notes Observations older than a day before late_before (reading the row FOR
-- SHARE); a retention run first moves late_before to its closed hour (waiting for the batches
-- that read the old value), then aggregates: every batch is either seen by that run's
-- aggregates, or noted, or inside the window of its next run.
ALTER TABLE sta_retention ADD COLUMN IF NOT EXISTS late_before timestamptz;
INSERT INTO sta_retention (one, aggregated_until, late_before) VALUES (true, NULL, NULL)
ON CONFLICT (one) DO NOTHING;
UPDATE sta_retention SET late_before = aggregated_until WHERE late_before IS NULL;

-- The days whose raw partition retention has dropped: an Observation arriving for such a day
-- (its partition made again) is added to the hour's aggregate when the day is dropped again,
-- never put in its place (the aggregate already counts the dropped rows).
CREATE TABLE IF NOT EXISTS sta_dropped_days (
    day date PRIMARY KEY
);
