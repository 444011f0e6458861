DELETE FROM crash_hotspots
