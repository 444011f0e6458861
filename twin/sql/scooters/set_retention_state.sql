-- The mark only moves forward.
INSERT INTO scooter_retention (one, aggregated_until) VALUES (true, %(until)s)
ON CONFLICT (one) DO UPDATE
    SET aggregated_until = GREATEST(scooter_retention.aggregated_until, EXCLUDED.aggregated_until)
