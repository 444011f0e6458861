SELECT source, licence, synthetic FROM twin_layers WHERE name = %(name)s
