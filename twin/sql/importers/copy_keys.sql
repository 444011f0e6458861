COPY twin_import_keys (i, name, g) FROM STDIN
