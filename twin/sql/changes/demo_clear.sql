-- A new demo city: the events of the old one go, and the history written before it is not
-- turned into events of the new one.
DELETE FROM change_events;
UPDATE change_event_state
SET last_change_id = coalesce((SELECT max(change_id) FROM twin_history), 0), refreshed_at = now();
