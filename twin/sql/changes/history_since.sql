-- The history's changes after the last one turned into events, oldest first, a batch at a time.
SELECT change_id, layer, feature_id, operation, changed_at, previous, current, txid
FROM twin_history
WHERE change_id > %(after)s
ORDER BY change_id
LIMIT %(limit)s
