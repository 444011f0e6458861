-- $count=true inside $expand: each parent's related entities that pass the $filter.
SELECT p.parent, (SELECT count(*) FROM {table} AS {t} WHERE {link} AND {condition})
FROM unnest(%(parents)s::bigint[]) AS p (parent)
