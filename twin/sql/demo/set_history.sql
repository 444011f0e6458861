SELECT set_config('twin.history', %(value)s, true)
