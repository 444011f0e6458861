UPDATE change_event_state SET last_change_id = %(last)s, refreshed_at = now()
