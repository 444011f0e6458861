"""A transport planner imports the city's GTFS feed (`twin import-gtfs`): a good feed becomes
the timetable and the layers transit_routes and transit_stops; a broken one is refused with
its errors named by file and line, and the feed in use stays as it was.

The feeds are built by hand, so every figure is known: route 1 (bus) runs stops A-B-C every
10 minutes 07:00-10:00 (18 trips), every 20 minutes 10:00-17:00 (21 trips) and once at 23:30,
in direction 0 only, on weekdays; the metro M runs A-C every 5 minutes 17:00-20:00 (36 trips),
route 2 (BRT) once. Headways: bus peak 360 min / 18 = 20.0 (07-10 and 17-20 together), midday
420 / 21 = 20.0, night 360 / 1 = 360.0, evening none; metro peak 360 / 36 = 10.0.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from twin.errors import ImportFailed
from twin.transit.gtfs import route_mode
from twin.transit.store import feed_summary, import_feed, timetable_frames

pytestmark = pytest.mark.own_database

# Three stops near Abay / Dostyk (inside the city), a fourth in Moscow for the bad feed.
# wheelchair_boarding: A step-free, B not (steps), C unknown.
STOPS = [
    {"stop_id": "A", "stop_name": "Abay", "stop_lat": "43.2400", "stop_lon": "76.9450"},
    {"stop_id": "B", "stop_name": "Baikonur", "stop_lat": "43.2450", "stop_lon": "76.9500"},
    {"stop_id": "C", "stop_name": "Dostyk", "stop_lat": "43.2500", "stop_lon": "76.9550"},
]
for stop, boarding in zip(STOPS, ("1", "2", "")):
    stop["wheelchair_boarding"] = boarding
ROUTES = [
    {
        "route_id": "r1",
        "route_short_name": "1",
        "route_long_name": "Abay - Dostyk",
        "route_type": "3",
    },
    {"route_id": "rm", "route_short_name": "M", "route_long_name": "Metro", "route_type": "1"},
    {"route_id": "r2", "route_short_name": "BRT-2", "route_long_name": "", "route_type": "3"},
]
CALENDAR = [
    {
        "service_id": "wd",
        "monday": "1",
        "tuesday": "1",
        "wednesday": "1",
        "thursday": "1",
        "friday": "1",
        "saturday": "0",
        "sunday": "0",
        "start_date": "20260105",
        "end_date": "20261231",
    },
]


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _trips() -> tuple[list[dict], list[dict]]:
    """The timetable described in the module's docstring: trips and their stop times."""
    departures = (
        [("r1", 7 * 3600 + i * 600) for i in range(18)]
        + [("r1", 10 * 3600 + i * 1200) for i in range(21)]
        + [("r1", 23 * 3600 + 1800)]
    )
    departures += [("rm", 17 * 3600 + i * 300) for i in range(36)] + [("r2", 12 * 3600)]
    trips, times = [], []
    for n, (route, start) in enumerate(departures):
        trip_id = f"{route}-{n}"
        trips.append(
            {"route_id": route, "service_id": "wd", "trip_id": trip_id, "direction_id": "0"}
        )
        for seq, stop in enumerate("ABC" if route != "rm" else "AC"):
            t = _clock(start + seq * 120)
            times.append(
                {
                    "trip_id": trip_id,
                    "arrival_time": t,
                    "departure_time": t,
                    "stop_id": stop,
                    "stop_sequence": str(seq + 1),
                }
            )
    return trips, times


def feed_files() -> dict[str, list[dict]]:
    trips, times = _trips()
    return {
        "agency": [
            {
                "agency_id": "AT",
                "agency_name": "Almaty Transit",
                "agency_url": "https://example.kz",
                "agency_timezone": "Asia/Almaty",
            }
        ],
        "stops": [dict(s) for s in STOPS],
        "routes": [dict(r) for r in ROUTES],
        "trips": trips,
        "stop_times": times,
        "calendar": [dict(c) for c in CALENDAR],
    }


def write_feed(path: Path, files: dict[str, list[dict]]) -> Path:
    """A GTFS zip of the given files, each a list of rows (the first row's keys are the
    header)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in files.items():
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            archive.writestr(f"{name}.txt", text.getvalue())
    return path


def _items(server, collection: str) -> list[dict]:
    answer = server.get(f"/collections/{collection}/items?limit=100")
    assert answer.status_code == 200, answer.text
    return answer.json()["features"]


@pytest.fixture(scope="module")
def good_feed(target, tmp_path_factory) -> Path:
    """The good feed, imported once: the feed in use for every bad feed after it."""
    path = write_feed(tmp_path_factory.mktemp("gtfs") / "almaty.zip", feed_files())
    result = target.twin("import-gtfs", str(path), "--name", "Almaty test feed")
    assert "3 routes (1 brt, 1 bus, 1 metro)" in result.stdout, result.stdout
    assert "77 trips, 3 stops, 195 stop times" in result.stdout
    return path


def test_a_good_feed_becomes_routes_with_headways_and_linked_stops(target, good_feed):
    with target.server() as server:
        routes = {f["properties"]["route_id"]: f for f in _items(server, "transit_routes")}
        stops = {
            f["properties"]["stop_id"]: f["properties"] for f in _items(server, "transit_stops")
        }
        meta = server.get("/collections/transit_routes?f=json").json()
    bus, metro, brt = routes["r1"]["properties"], routes["rm"]["properties"], routes["r2"]
    assert (metro["mode"], brt["properties"]["mode"], bus["mode"]) == ("metro", "brt", "bus")
    assert (bus["headway_peak_min"], bus["headway_midday_min"]) == (20.0, 20.0)
    assert (bus["headway_evening_min"], bus["headway_night_min"]) == (None, 360.0)
    assert (metro["headway_peak_min"], metro["trips_per_day"], metro["stops"]) == (10.0, 36, 2)
    assert (bus["trips_per_day"], bus["stops"]) == (40, 3)
    # the bus's line is drawn through A, B, C: two legs of about 680 m each
    assert routes["r1"]["geometry"]["coordinates"][0] == [76.945, 43.24]
    assert 1.2 < bus["length_km"] < 1.5
    assert stops["A"] == {**stops["A"], "name": "Abay", "mode": "metro", "routes": "1, BRT-2, M"}
    assert (stops["B"]["mode"], stops["B"]["routes"]) == ("brt", "1, BRT-2")
    assert meta["provenance"]["source"] == "GTFS feed Almaty test feed (almaty.zip)"
    assert meta["provenance"]["synthetic"] is False
    assert len(meta["provenance"]["details"]["sha256"]) == 64


def test_the_timetable_reads_back_as_it_was_imported(target, good_feed):
    with target.connect() as conn:
        frames = timetable_frames(conn)
        summary = feed_summary(conn)
    assert summary["counts"] == {"routes": 3, "trips": 77, "stops": 3, "stop_times": 195}
    assert (summary["service_start"], summary["headway_day"]) == ("2026-01-05", "2026-01-05")
    assert len(frames.trips) == 77 and len(frames.stop_times) == 195
    first = frames.stop_times.iloc[0]
    assert (first["trip_id"], first["stop_id"], first["arrival_s"]) == ("r1-0", "A", 25200)
    assert frames.stop_times["departure_s"].max() == 23 * 3600 + 1800 + 240
    assert frames.calendar.iloc[0][["monday", "sunday"]].tolist() == [True, False]
    assert str(frames.calendar.iloc[0]["end_date"]) == "2026-12-31"
    assert set(frames.stops["mode"]) == {"metro", "brt"}
    boarding = frames.stops.set_index("stop_id")["wheelchair_boarding"]
    assert (boarding["A"], boarding["B"]) == (1, 2) and pd.isna(boarding["C"])
    assert frames.trips["shape_id"].isna().all()


def _bad(files: dict[str, list[dict]], change) -> dict[str, list[dict]]:
    change(files)
    return files


def _broken_stop(files):
    files["stop_times"][4]["stop_id"] = "Z"


def _time_49(files):
    """The BRT's one trip at 24:58, 25:00 (fine: after midnight) and 49:00 (two days on)."""
    for row, t in zip(files["stop_times"][-3:], ("24:58:00", "25:00:00", "49:00:00")):
        row.update(arrival_time=t, departure_time=t)


def _moscow(files):
    files["stops"][2].update(stop_lat="55.7558", stop_lon="37.6173")


def _no_service(files):
    files["calendar"][0].update(
        {day: "0" for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
    )


def _no_stop_times(files):
    del files["stop_times"]


BAD_FEEDS = {
    "a broken stop reference": (
        _broken_stop,
        "stop_times.txt line 6: stop_id 'Z' is not a stop in stops.txt",
    ),
    "a time past 48:00": (_time_49, "arrival_time '49:00:00' is past 48:00:00"),
    "a stop in Moscow": (_moscow, "stop 'C' at 55.7558 N, 37.6173 E lies outside the city"),
    "no service on any day": (_no_service, "no trip runs on any day"),
    "no stop_times.txt": (_no_stop_times, "required file(s) missing or empty: stop_times.txt"),
}


def _feed_in_use(target) -> tuple:
    with target.connect() as conn:
        return conn.execute(
            "SELECT (SELECT name FROM gtfs_feed), (SELECT count(*) FROM gtfs_stop_times),"
            " (SELECT count(*) FROM transit_routes), (SELECT count(*) FROM transit_stops)"
        ).fetchone()


@pytest.mark.parametrize("problem", list(BAD_FEEDS))
def test_a_bad_feed_is_refused_and_the_feed_in_use_stays(target, good_feed, tmp_path, problem):
    """The importer the CLI calls, in-process (the CLI's exit code and message are the next
    story's): each problem named, nothing changed."""
    change, message = BAD_FEEDS[problem]
    path = write_feed(tmp_path / "bad.zip", _bad(feed_files(), change))
    with target.connect() as conn, pytest.raises(ImportFailed) as refused:
        import_feed(conn, path, replace=True, undoable=True)
    assert message in str(refused.value), refused.value
    assert "nothing was changed" in str(refused.value)
    if problem == "a time past 48:00":
        assert "25:00:00" not in str(refused.value)  # after midnight is fine
    assert _feed_in_use(target) == ("Almaty test feed", 195, 3, 3)


def test_a_replaced_feed_comes_back_with_twin_import_undo(target, good_feed, tmp_path):
    """A new feed without the BRT replaces the one in use; `twin import log` lists it and
    `twin import undo` brings back the previous timetable and layers, row for row."""
    files = feed_files()
    files["routes"] = [r for r in files["routes"] if r["route_id"] != "r2"]
    brt = {t["trip_id"] for t in files["trips"] if t["route_id"] == "r2"}
    files["trips"] = [t for t in files["trips"] if t["trip_id"] not in brt]
    files["stop_times"] = [t for t in files["stop_times"] if t["trip_id"] not in brt]
    path = write_feed(tmp_path / "spring.zip", files)
    target.twin("import-gtfs", str(path), "--name", "Spring feed", "--replace")
    assert _feed_in_use(target) == ("Spring feed", 192, 2, 3)
    log = target.twin("import", "log").stdout.splitlines()
    assert "import-gtfs spring.zip" in log[0], log
    assert "transit_routes (replace-layer) +2 -3" in log[0], log

    undone = target.twin("import", "undo").stdout
    assert "undid import" in undone and "import-gtfs spring.zip" in undone, undone
    assert "gtfs_stop_times: put back as it was (195 row(s))" in undone, undone
    assert _feed_in_use(target) == ("Almaty test feed", 195, 3, 3)
    with target.connect() as conn:
        frames = timetable_frames(conn)
        kept = conn.execute("SELECT count(*) FROM twin_import_table_rows").fetchone()[0]
    assert len(frames.trips) == 77 and set(frames.routes["route_id"]) == {"r1", "r2", "rm"}
    assert kept == 0  # the copies go with the undo
    again = target.twin("import", "undo", check=False)  # the first import is next: it undoes
    assert again.returncode == 0, again.stderr  # to no feed at all, and that is allowed too
    assert _feed_in_use(target)[1:] == (0, 0, 0)
    target.twin("import-gtfs", str(good_feed), "--name", "Almaty test feed", "--replace")


def test_not_a_zip_and_a_second_real_feed_without_replace_are_refused(target, good_feed, tmp_path):
    text = tmp_path / "feed.zip"
    text.write_text("route_id,route_type\n1,3\n")
    result = target.twin("import-gtfs", str(text), "--replace", check=False)
    assert result.returncode != 0 and "not a zip archive" in result.stderr
    result = target.twin("import-gtfs", str(good_feed), "--name", "again", check=False)
    assert result.returncode != 0
    assert "'Almaty test feed'" in result.stderr and "--replace" in result.stderr


def test_modes_follow_the_route_type_and_brt_by_its_name():
    assert route_mode(3, "BRT-2", None) == route_mode(702, "7", None) == "brt"
    assert route_mode(3, "12", "BRT Abaya") == "brt"
    assert route_mode(800, None, None) == route_mode(11, None, None) == "trolleybus"
    assert (route_mode(1, "M", None), route_mode(3, "5", None)) == ("metro", "bus")
    assert route_mode(2, None, None) is None and route_mode(6, None, None) is None  # rail, cable
