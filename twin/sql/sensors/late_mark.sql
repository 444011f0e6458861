-- Below what time a batch's Observations are late (more than a day below retention's late
-- mark: its next run would not aggregate their hours again). FOR SHARE: a retention run moves
-- the mark only after the batches that read it have committed (twin/sensors/retention.py).
SELECT late_before - INTERVAL '1 day' FROM sta_retention FOR SHARE
