INSERT INTO scooter_operators (name, url) VALUES (%(name)s, %(url)s)
ON CONFLICT (name) DO UPDATE SET url = excluded.url, enabled = true, next_poll_at = now(),
                                 failures = 0
