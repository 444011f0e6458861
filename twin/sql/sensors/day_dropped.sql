-- A day dropped: its late hours (aggregated with the whole day) cleared, the day remembered.
WITH cleared AS (
    DELETE FROM sta_late_hours
    WHERE hour >= %(start)s AND hour < %(start)s::timestamptz + INTERVAL '1 day'
)
INSERT INTO sta_dropped_days (day) VALUES (%(day)s) ON CONFLICT (day) DO NOTHING
