SELECT jsonb_build_object('source', source, 'licence', licence, 'loaded_at', loaded_at,
                          'synthetic', synthetic, 'details', details)
FROM twin_layers WHERE name = %(layer)s
