SELECT b.id, b.started_at, b.command, b.file, b.source, b.undone_at, b.superseded_at,
       coalesce(jsonb_agg(jsonb_build_object('layer', l.layer, 'mode', l.mode, 'added', l.added,
                                             'removed', l.removed, 'skipped', l.skipped)
                          ORDER BY l.layer) FILTER (WHERE l.layer IS NOT NULL), '[]'::jsonb)
FROM twin_import_batches b LEFT JOIN twin_import_layers l ON l.batch_id = b.id
GROUP BY b.id ORDER BY b.id DESC LIMIT %(limit)s
