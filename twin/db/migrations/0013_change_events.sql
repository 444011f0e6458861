-- Change open to the public (twin/changes): the change_events layer (layers/change_events.yml,
-- created by `twin migrate` from the catalog) is derived from twin_history. This is how far
-- the derivation has read: twin_history.change_id up to `last_change_id` is turned into
-- events, so a refresh reads only what is new (cheap, idempotent: events are keyed).
CREATE TABLE IF NOT EXISTS change_event_state (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_change_id  bigint NOT NULL DEFAULT 0,
    refreshed_at    timestamptz
);
INSERT INTO change_event_state (one) VALUES (true) ON CONFLICT DO NOTHING;
