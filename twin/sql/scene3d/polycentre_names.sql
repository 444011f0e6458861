-- Polycentre names a user may ask for, for the message when a name is not found.
SELECT name FROM polycentres ORDER BY name
