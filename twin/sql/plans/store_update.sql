-- A change of a plan's title, description, privacy, mode or edits: a new version. A change
-- that leaves edits and mode alone keeps the evaluation current (it moves on with the plan).
UPDATE plans
SET title = %(title)s, description = %(description)s, private = %(private)s, mode = %(mode)s,
    edits = %(edits)s, version = version + 1, updated = now(), status = %(status)s,
    evaluated_version = CASE
        WHEN NOT %(reevaluate)s AND evaluated_version = version THEN version + 1
        ELSE evaluated_version END
WHERE id = %(id)s
RETURNING id, title, description, author, private, mode, edits, version, created, updated,
       base_version, status, failure, evaluation, evaluated_at, evaluated_version
