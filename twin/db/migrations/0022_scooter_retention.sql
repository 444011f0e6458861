-- Scooter positions kept over time, and let go (twin/scooters/retention.py, docs/scooters.md).
--
-- Each position gets the H3 cell it stands in (resolution 9, as the trips' cells), written by
-- the ingest; `twin scooters retain` (and the poller, hourly) sums the closed hours' positions
-- into scooter_cells_hourly, and drops the day partitions of scooter_positions older than
-- TWIN_SCOOTERS_RAW_DAYS, each day summed again from its raw rows first, all in one
-- transaction. What the derived layers read (scooter_hourly: per district and zone) is kept by
-- every poll and never dropped. Positions stored before this migration have no cell: they
-- count in scooter_hourly only.

ALTER TABLE scooter_positions ADD COLUMN IF NOT EXISTS h3_cell bigint;
ALTER TABLE scooter_latest ADD COLUMN IF NOT EXISTS h3_cell bigint;

-- Per H3 cell, operator and hour: like scooter_hourly, sums over the hour's polls (divide by
-- scooter_hourly_polls.polls for the mean of the hour).
CREATE TABLE IF NOT EXISTS scooter_cells_hourly (
    hour      timestamptz NOT NULL,
    operator  text NOT NULL,
    h3_cell   bigint NOT NULL,
    standing  bigint NOT NULL,     -- vehicles not reserved
    outside   bigint NOT NULL,     -- ... of them left outside parking
    disabled  bigint NOT NULL,
    PRIMARY KEY (hour, operator, h3_cell)
);

-- Until when the closed hours are summed (one row).
CREATE TABLE IF NOT EXISTS scooter_retention (
    one               boolean PRIMARY KEY DEFAULT true CHECK (one),
    aggregated_until  timestamptz
);
