INSERT INTO twin_import_batches (command, file, source)
VALUES (%(command)s, %(file)s, %(source)s)
RETURNING id
