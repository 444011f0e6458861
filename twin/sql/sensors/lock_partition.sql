-- Before a day is aggregated for the last time and dropped: the batches writing it commit
-- first (and later ones wait), so the aggregate sees every row the DROP takes away.
LOCK TABLE {partition} IN ACCESS EXCLUSIVE MODE
