"""`twin bench refresh`: from an edit's commit to the refreshed analysis, against `twin analyse`.

On the twin of TWIN_HOME (it writes: use a scratch home with the demo loaded and analysed): the
refresher's in-memory analysis is built once, then a school is added at a lived-in plot
(committed), and the refresh that publishes the touched plots, cells and indicators is timed;
the school is deleted and that refresh timed too. The comparison is a full `twin analyse` of the
same data in the same run. Prints ONE JSON line: median and p95 refresh time, the full
analysis time and their ratio, plus rows written per refresh.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import psycopg

from twin.analysis.publish import analyse
from twin.analysis.refresh import Refresher
from twin.db.cluster import database_url


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench refresh")
    parser.add_argument("--runs", type=int, default=3, help="schools added and removed")
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    url = database_url()
    refresher = Refresher()
    with (
        psycopg.connect(url, autocommit=True) as leader,
        psycopg.connect(url, autocommit=True) as editor,
    ):
        leader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        started = time.perf_counter()
        refresher.step(leader)
        build_s = time.perf_counter() - started
        if refresher.state is None:
            raise SystemExit("no published analysis to refresh: run `twin analyse` first")
        places = editor.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM plot_metrics "
            "WHERE residents > 0 ORDER BY md5(plot_id::text) LIMIT %(n)s) s",
            {"n": args.runs},
        ).fetchall()
        timings, written = [], []
        for lon, lat in places:
            for change in ("add", "remove"):
                if change == "add":
                    school = editor.execute(
                        "INSERT INTO amenities (geom, kind, name, category) VALUES "
                        "(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 'school', "
                        "'Bench school', 'education') RETURNING id",
                        {"lon": lon, "lat": lat},
                    ).fetchone()[0]
                else:
                    editor.execute("DELETE FROM amenities WHERE id = %(id)s", {"id": school})
                committed = time.perf_counter()
                result = refresher.step(leader, edited=True)
                timings.append(time.perf_counter() - committed)
                written.append(sum(result["rows_written"].values()) if result else 0)
        started = time.perf_counter()
        analyse(editor)
        full_s = time.perf_counter() - started
    median = float(np.median(timings))
    print(
        json.dumps(
            {
                "bench": "refresh",
                "edits": len(timings),
                "refresh_median_s": round(median, 3),
                "refresh_p95_s": round(float(np.percentile(timings, 95)), 3),
                "rows_written_median": int(np.median(written)),
                "full_analyse_s": round(full_s, 2),
                "ratio_to_full": round(median / full_s, 4),
                "refresher_build_s": round(build_s, 2),
                "load_average": round(os.getloadavg()[0], 2),
            }
        )
    )
