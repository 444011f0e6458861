-- Sensor keys (twin/sensors/keys.py): a key that may post Observations for the Datastreams of
-- one data provider's Things, or of one Thing. Stored like the editors' keys (twin_users): a
-- key id to find the row, a salt and a SHA-256 of the 256-bit secret; revoked keys stay listed.

CREATE TABLE IF NOT EXISTS sta_keys (
    key_id      text PRIMARY KEY,
    label       text NOT NULL DEFAULT '',
    provider_id bigint REFERENCES sta_providers (id) ON DELETE CASCADE,
    thing_id    bigint REFERENCES sta_things (id) ON DELETE CASCADE,
    key_salt    bytea NOT NULL,
    key_hash    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((provider_id IS NULL) <> (thing_id IS NULL))
);

-- The day partition of the observations, as in 0011, now with a second BRIN index on the id
-- (ids are drawn in arrival order, so an Observation's @iot.id is found through the BRIN of
-- each day partition without a btree to keep up at ingest), and two writers needing the same
-- new day take turns (an advisory lock) and neither fails on "already exists".
CREATE OR REPLACE FUNCTION sta_observation_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('sta_observations_%s', to_char(day, 'YYYYMMDD'));
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(part));
    -- the catalog cache may not have seen the other writer's table yet: a failed CREATE is
    -- the sure sign it exists
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF sta_observations '
            'FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
        EXECUTE format('CREATE INDEX %I ON %I USING brin (phenomenon_time)',
                       part || '_time', part);
        EXECUTE format('CREATE INDEX %I ON %I USING brin (id)', part || '_id', part);
    EXCEPTION WHEN duplicate_table THEN
        NULL;
    END;
    RETURN part;
END $$;

-- How far `twin sensors retain` has aggregated closed hours (one row): the next run starts a
-- day before it, so Observations arriving up to a day late are still counted.
CREATE TABLE IF NOT EXISTS sta_retention (
    one              boolean PRIMARY KEY DEFAULT true CHECK (one),
    aggregated_until timestamptz
);

-- An Observation posted without a FeatureOfInterest is about its Thing's Location (the
-- standard's rule): the ingest makes that Location a FeatureOfInterest once and reuses it.
ALTER TABLE sta_features_of_interest
    ADD COLUMN IF NOT EXISTS location_id bigint REFERENCES sta_locations (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX IF NOT EXISTS sta_features_of_interest_location
    ON sta_features_of_interest (location_id);
