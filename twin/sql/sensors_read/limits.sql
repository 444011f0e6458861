-- A read's bounds, for its transaction only: how long its statements may run, and the ISO
-- date style the JSON's instants are written with (twin.sensors.read._utc: a timestamp's
-- text with its space made a T, three fifths of to_json's time for the 44,000 lamps).
SELECT set_config('statement_timeout', %(timeout_ms)s, true), set_config('DateStyle', 'ISO', true)
