-- An import or an undo holds the layer still: edits wait, so the ids it adds are its own.
LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE
