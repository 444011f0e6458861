-- Provenance and description of one layer (the terrain collection shows them).
SELECT details || jsonb_build_object('source', source, 'licence', licence,
                                     'synthetic', synthetic, 'version', version)
FROM twin_layers WHERE name = %(name)s
