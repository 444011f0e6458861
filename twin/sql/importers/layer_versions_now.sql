SELECT (SELECT version FROM twin_layers WHERE name = %(layer)s),
       (SELECT version FROM twin_import_layer_versions WHERE layer = %(layer)s)
