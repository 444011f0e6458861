-- How far the events are derived, and the newest change in the history (a history emptied and
-- refilled, e.g. a fresh database restored, starts the reading over).
SELECT s.last_change_id, coalesce((SELECT max(change_id) FROM twin_history), 0)
FROM change_event_state AS s
