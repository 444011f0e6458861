DELETE FROM crashes WHERE source = %(source)s
