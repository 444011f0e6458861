-- After a poll: when to poll the operator next (a success: ok_wait_s; a failure: the back-off,
-- doubling with each failure in a row up to max_backoff_s) and its run of failures.
UPDATE scooter_operators
SET next_poll_at = now() + make_interval(secs => CASE
        WHEN %(ok)s THEN %(ok_wait_s)s
        ELSE least(%(first_backoff_s)s * power(2, failures), %(max_backoff_s)s) END),
    failures = CASE WHEN %(ok)s THEN 0 ELSE failures + 1 END,
    last_ok_at = CASE WHEN %(ok)s THEN %(polled_at)s ELSE last_ok_at END
WHERE name = %(operator)s
RETURNING failures
