-- Does the entity a path goes through exist (an empty collection under a missing one is 404)?
SELECT EXISTS (SELECT 1 FROM {table} AS {t} WHERE {condition})
