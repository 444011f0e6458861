"""Public transport: GTFS feeds (import, storage), the timetable the engine reads, and walk +
transit earliest arrival (RAPTOR) for the 15-minute city "on foot or by public transport"."""
