SELECT EXISTS (SELECT FROM sta_dropped_days WHERE day = %(day)s)
