-- The layers change events are about (a feed's ?layer= names one of them).
SELECT DISTINCT layer FROM change_events ORDER BY layer
