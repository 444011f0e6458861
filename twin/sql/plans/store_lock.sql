-- One plan, locked for a change in this transaction (If-Match is checked under the lock).
SELECT id, title, description, author, private, mode, edits, version, created, updated,
       base_version, status, failure, evaluation, evaluated_at, evaluated_version
FROM plans WHERE id = %(id)s FOR UPDATE
