SELECT coalesce(bool_or(synthetic), false) FROM twin_layers WHERE name = ANY(%(names)s)
