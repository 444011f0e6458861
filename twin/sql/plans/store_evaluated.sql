-- An evaluation stored, if the plan is still at the version it was made for.
UPDATE plans
SET evaluation = %(evaluation)s, base_version = %(base_version)s, status = 'evaluated',
    failure = NULL, evaluated_at = now(), evaluated_version = version
WHERE id = %(id)s AND version = %(version)s
RETURNING id, title, description, author, private, mode, edits, version, created, updated,
       base_version, status, failure, evaluation, evaluated_at, evaluated_version
