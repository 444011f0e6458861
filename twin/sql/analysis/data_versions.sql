SELECT name, version FROM twin_layers WHERE name = ANY(%(names)s)
