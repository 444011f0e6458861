SELECT set_config('twin.user', %(actor)s, true), set_config('twin.operation', %(operation)s, true)
