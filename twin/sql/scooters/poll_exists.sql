SELECT 1 FROM scooter_polls
WHERE operator = %(operator)s AND polled_at = %(at)s AND outcome = 'stored'
