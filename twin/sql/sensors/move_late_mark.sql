-- A retention run's first step, in its own short transaction: from now on the ingest notes
-- what arrives more than a day below `until` (waits for the batches that read the old mark).
UPDATE sta_retention SET late_before = GREATEST(late_before, %(until)s)
