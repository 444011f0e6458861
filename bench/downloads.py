"""`twin bench downloads`: a whole collection as GeoParquet, CSV and GeoPackage from the twin,
against ogr2ogr reading the same table from PostGIS directly (the peer a GIS user picks) and,
for GeoParquet (Debian's GDAL 3.6 has no Parquet driver), geopandas' read_postgis +
to_parquet (the peer a Python user picks).

Each system runs `--runs` times per format, turns taken so load changes fall on all; the time
is to the last byte written to a file, memory the peak resident set of the process doing the
work (the twin's server, sampled every 20 ms; ogr2ogr or the geopandas child likewise), with
the server's resident set before the first download printed beside it. Uses the `city` demo
when it is loaded (226,842 plots), otherwise whatever is (the small demo: 28,422). The issue's
targets: the city's plots as GeoParquet in at most 10 s and 500 MB of server memory.
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg import sql

from twin.db.cluster import database_url
from twin.server_process import ServerProcess

TARGET_SECONDS = 10.0
TARGET_MB = 500.0
FORMATS = ("parquet", "csv", "gpkg")
GEOPANDAS_PEER = """
import sys, geopandas as gpd, sqlalchemy
engine = sqlalchemy.create_engine(sys.argv[1].replace("postgresql://", "postgresql+psycopg://"))
frame = gpd.read_postgis(f"SELECT * FROM {sys.argv[2]} ORDER BY id", engine, geom_col="geom")
frame.to_parquet(sys.argv[3])
"""


class PeakMemory:
    """The peak resident set of a process and its children, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        try:
            processes = [self.process, *self.process.children(recursive=True)]
            return sum(p.memory_info().rss for p in processes)
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _megabytes(value: int) -> float:
    return round(value / 1e6, 1)


def _ours(server: ServerProcess, layer: str, fmt: str, out: Path) -> tuple[float, int, int]:
    """(seconds, bytes, peak server RSS) of one download through the API."""
    with PeakMemory(server.process.pid) as memory:
        started = time.perf_counter()
        size = 0
        with (
            httpx.stream(
                "GET", f"{server.url}/collections/{layer}/items?f={fmt}", timeout=600
            ) as r,
            out.open("wb") as file,
        ):
            r.raise_for_status()
            for block in r.iter_bytes(1 << 20):
                size += len(block)
                file.write(block)
        seconds = time.perf_counter() - started
    return seconds, size, memory.peak


def _child(command: Sequence[str], out: Path) -> tuple[float, int, int]:
    """(seconds, bytes, peak RSS) of a peer writing `out` in a child process."""
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with PeakMemory(process.pid) as memory:
        _, errors = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {errors.decode()[-500:]}")
    return seconds, out.stat().st_size, memory.peak


def _peer(url: str, layer: str, fmt: str, out: Path) -> tuple[float, int, int] | None:
    info = psycopg.conninfo.conninfo_to_dict(url)
    pg = " ".join(f"{k}={v}" for k, v in info.items() if k in ("host", "port", "dbname", "user"))
    if fmt == "parquet":
        return _child([sys.executable, "-c", GEOPANDAS_PEER, url, layer, str(out)], out)
    options = ["-lco", "GEOMETRY=AS_WKT"] if fmt == "csv" else []
    driver = {"csv": "CSV", "gpkg": "GPKG"}[fmt]
    select = f"SELECT * FROM {layer} ORDER BY id"
    return _child(["ogr2ogr", "-f", driver, *options, str(out), f"PG:{pg}", "-sql", select], out)


def _summary(runs: list[tuple[float, int, int]]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(r[0] for r in runs), 2),
        "mb": _megabytes(runs[0][1]),
        "peak_rss_mb": _megabytes(max(r[2] for r in runs)),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench downloads", description=__doc__)
    parser.add_argument("--layer", default="plots")
    parser.add_argument("--runs", type=int, default=3, help="downloads per format and system")
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args(argv)
    url = database_url()
    with psycopg.connect(url) as conn:
        count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(args.layer))
        rows = conn.execute(count).fetchone()[0]
    formats = [f for f in args.formats.split(",") if f]
    result: dict[str, Any] = {"layer": args.layer, "rows": rows, "runs": args.runs}
    server = ServerProcess.twin(
        "--workers", "1", timeout_s=120, env={"TWIN_QUIET": "1", "TWIN_ANALYSIS_REFRESH": "off"}
    )
    try:
        idle = PeakMemory(server.process.pid).rss()
        result["server_idle_rss_mb"] = _megabytes(idle)
        with tempfile.TemporaryDirectory(prefix="twin-bench-downloads-") as folder:
            ours: dict[str, list[tuple[float, int, int]]] = {f: [] for f in formats}
            peers: dict[str, list[tuple[float, int, int]]] = {f: [] for f in formats}
            systems: list[tuple[dict[str, Any], Callable[[str, Path], Any]]] = [
                (ours, lambda fmt, out: _ours(server, args.layer, fmt, out)),
                (peers, lambda fmt, out: _peer(url, args.layer, fmt, out)),
            ]
            for _ in range(args.runs):
                for fmt in formats:
                    for store, run in systems:
                        store[fmt].append(run(fmt, Path(folder) / f"{args.layer}.{fmt}"))
        for fmt in formats:
            mine, theirs = _summary(ours[fmt]), _summary(peers[fmt])
            peer = "geopandas read_postgis+to_parquet" if fmt == "parquet" else "ogr2ogr PG:"
            result[fmt] = {
                "ours": mine,
                "peer": {"system": peer, **theirs},
                "time_ratio_to_peer": round(mine["median_s"] / theirs["median_s"], 2),
            }
        if "parquet" in result:
            mine = result["parquet"]["ours"]
            result["targets"] = {
                "parquet_s_le_10": mine["median_s"] <= TARGET_SECONDS,
                "server_peak_mb_le_500": mine["peak_rss_mb"] <= TARGET_MB,
            }
    finally:
        server.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
