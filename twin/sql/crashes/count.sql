SELECT count(*) FROM crashes
