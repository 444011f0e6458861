SELECT pg_notify('twin_analysis', %(layer)s)
