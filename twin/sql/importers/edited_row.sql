-- A row an editor added or changed: its history holds a change that is not an import's.
EXISTS (SELECT 1 FROM twin_history h
        WHERE h.layer = %(layer)s AND h.feature_id = t.id
          AND h.operation NOT IN ('import', 'import undo'))
