-- Below what time an edited or deleted Observation's hour may already be aggregated (the late
-- mark itself: a run moves it before it aggregates). FOR SHARE, as the ingest's late_mark: a
-- retention run moves the mark only after the edits that read it have committed.
SELECT late_before FROM sta_retention FOR SHARE
