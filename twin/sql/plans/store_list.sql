-- The plans a reader may see (public ones, their own, every one for an admin), newest first,
-- optionally of one author, without their edits and evaluations (a list stays light);
-- count(*) OVER () is the number matched.
SELECT id, title, description, author, private, mode, version, created, updated,
       base_version, status, failure, evaluated_at, evaluated_version,
       jsonb_array_length(edits -> 'features') AS edit_count, count(*) OVER () AS matched
FROM plans
WHERE (NOT private OR author = %(reader)s OR %(admin)s)
  AND (%(author)s::text IS NULL OR author = %(author)s)
ORDER BY id DESC
LIMIT %(limit)s OFFSET %(offset)s
