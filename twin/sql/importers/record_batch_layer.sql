INSERT INTO twin_import_layers (batch_id, layer, mode, scope, added, removed, skipped, rejected,
                                provenance_before)
VALUES (%(batch)s, %(layer)s, %(mode)s, %(scope)s::jsonb, %(added)s, %(removed)s, %(skipped)s,
        %(rejected)s, %(provenance_before)s::jsonb)
