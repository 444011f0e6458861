"""The timetable as tables: what the GTFS importer stores and reads back (twin.transit.store)
and what the engine builds its arrays from (twin.transit.timetable). One shape, so the engine
can be fed from the database, from a hand-built test feed or from a GTFS zip alike.

Times are seconds after midnight of the service day (GTFS "noon minus 12 h"), and may pass
86 400 (a trip after midnight belongs to the day it started).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MODES_BY_ROUTE_TYPE = {0: "tram", 1: "metro", 2: "rail", 3: "bus", 11: "trolleybus"}
# BRT has no GTFS route_type of its own in the base spec: the importer keeps route_type 3 and
# reads "brt" from the extended type 702 (Express Bus Service) or a route name starting "BRT"


@dataclass
class TimetableFrames:
    """One feed's tables, GTFS column names where GTFS has one.

    - stops: stop_id (str), stop_name, lon, lat (WGS84), mode (bus/trolleybus/tram/brt/metro)
    - routes: route_id, short_name, long_name, route_type (int), mode
    - trips: trip_id, route_id, service_id, direction_id (0/1), shape_id (may be None)
    - stop_times: trip_id, stop_sequence (int), stop_id, arrival_s, departure_s (int seconds)
    - calendar: service_id, monday..sunday (bool), start_date, end_date (datetime.date)
    - calendar_dates: service_id, date (datetime.date), exception_type (1 added, 2 removed)
    """

    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendar: pd.DataFrame
    calendar_dates: pd.DataFrame
