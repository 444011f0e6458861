INSERT INTO scooter_polls (operator, polled_at, outcome, reason, details, vehicles, stations,
                           duration_ms)
VALUES (%(operator)s, %(polled_at)s, %(outcome)s, %(reason)s, %(details)s, %(vehicles)s,
        %(stations)s, %(duration_ms)s)
