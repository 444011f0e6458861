-- District names a user may ask for, for the message when a name is not found.
SELECT name_en FROM districts ORDER BY name_en
