-- The last change of a feature that has no row now (deleted): locked for the transaction, so
-- that of two restores of it one waits for the other, then sees the version it wrote.
SELECT version FROM twin_history
WHERE layer = %(layer)s AND feature_id = %(id)s
ORDER BY version DESC
LIMIT 1
FOR UPDATE
