-- Observations over MQTT (twin/sensors/mqtt.py): the bridge's counters, and the notice of every
-- created Observation that the bridge publishes to MQTT subscribers.
--
-- Every INSERT of observations (HTTP or MQTT, through twin.sensors.ingest) notifies the channel
-- `sta_observations_created` at commit with the range it created (first/last id, count, first and
-- last phenomenon time): one notice per statement, not per row, so a batch of 20,000 costs one
-- notice. The bridge reads the range back (the time bounds prune the day partitions) and
-- publishes each Observation to v1.1/Datastreams(<id>)/Observations and v1.1/Observations.

CREATE OR REPLACE FUNCTION sta_observations_created_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT min(id) AS first_id, max(id) AS last_id, count(*) AS n,
           min(phenomenon_time) AS t0, max(phenomenon_time) AS t1
      INTO r FROM created;
    IF r.n > 0 THEN
        PERFORM pg_notify('sta_observations_created', json_build_object(
            'first', r.first_id, 'last', r.last_id, 'n', r.n, 'from', r.t0, 'to', r.t1)::text);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS sta_observations_created ON sta_observations;
CREATE TRIGGER sta_observations_created
    AFTER INSERT ON sta_observations
    REFERENCING NEW TABLE AS created
    FOR EACH STATEMENT EXECUTE FUNCTION sta_observations_created_notify();

-- What the bridge refused, by reason (bad_json, oversize, unknown_datastream, wrong_type, ...),
-- summed over every bridge that ran on this database; the last example of each, for humans.
CREATE TABLE IF NOT EXISTS sta_mqtt_refusals (
    reason       text PRIMARY KEY,
    n            bigint NOT NULL DEFAULT 0,
    last_at      timestamptz,
    last_topic   text,
    last_detail  text
);

-- The bridge's state: one row (the leader's), updated about every second.
CREATE TABLE IF NOT EXISTS sta_mqtt_bridge (
    id           integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    broker       text,
    connected    boolean NOT NULL DEFAULT false,
    since        timestamptz,
    received     bigint NOT NULL DEFAULT 0,
    ingested     bigint NOT NULL DEFAULT 0,
    refused      bigint NOT NULL DEFAULT 0,
    published    bigint NOT NULL DEFAULT 0,
    reconnects   bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz
);
