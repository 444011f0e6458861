-- $count=true: the entities the path and $filter select, before $top and $skip.
SELECT count(*) FROM {table} AS {t} WHERE {condition}
