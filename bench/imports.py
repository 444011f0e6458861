"""`twin bench imports [--runs N] [--copies K]`: `twin import` against GDAL's ogr2ogr loading the
same file into the same PostGIS, side by side in one run.

The file is the real blocks of Almaty (../shared/data/almaty/blocks.geojson, 2,531 polygons),
repeated K times (default 20, about 50,000 features) into a GeoPackage. Both tools run as a
user runs them (a subprocess each, start-up included); `twin import` also in-process. ogr2ogr
only copies; `twin import` also maps, converts, validates and repairs, then writes in one
transaction. Everything happens in a scratch database of the twin's cluster, dropped at the end.
Prints one JSON line: medians, p95s, features per second and the ratio ours / ogr2ogr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = ROOT.parent / "shared" / "data" / "almaty" / "blocks.geojson"
TWIN = str(Path(sys.executable).parent / "twin")


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {result.stderr.strip()[-500:]}")
    return elapsed


def _figures(samples: list[float], features: int) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(samples), 3),
        "p95_s": round(float(np.percentile(samples, 95)), 3),
        "features_per_s": round(features / statistics.median(samples)),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench imports")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args(argv)
    if not BLOCKS.exists():
        raise SystemExit(f"the real Almaty blocks are needed: {BLOCKS} is absent")
    if not shutil.which("ogr2ogr"):
        raise SystemExit("ogr2ogr (gdal-bin) is needed for the comparison")

    from twin.db.cluster import database_url
    from twin.db.pool import connect
    from twin.importers.ogr import import_file

    base_url = database_url()
    name = f"twin_bench_imports_{os.getpid()}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(base_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    work = Path(tempfile.mkdtemp(prefix="twin-bench-imports-"))
    env = {**os.environ, "DATABASE_URL": url, "TWIN_HOME": str(work / "home"), "TWIN_QUIET": "1"}
    try:
        subprocess.run([TWIN, "migrate"], check=True, capture_output=True, env=env)
        blocks = gpd.read_file(BLOCKS)
        copies = [
            blocks.assign(block_id=blocks["block_id"] + i * 1_000_000) for i in range(args.copies)
        ]
        frame = gpd.GeoDataFrame(pd.concat(copies, ignore_index=True), crs=blocks.crs)
        source = work / "blocks.gpkg"
        frame.to_file(source, layer="blocks", driver="GPKG")
        features = len(frame)
        pg = "PG:" + " ".join(f"{k}={v}" for k, v in params.items() if v)
        ogr = [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            pg,
            str(source),
            "-nln",
            "bench_blocks_ogr",
            "-overwrite",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-nlt",
            "MULTIPOLYGON",
            "-t_srs",
            "EPSG:4326",
            "--config",
            "PG_USE_COPY",
            "YES",
        ]
        ours = [TWIN, "import", str(source), "--mapping", "almaty_blocks"]
        samples: dict[str, list[float]] = {
            "ogr2ogr": [],
            "twin_import_cli": [],
            "twin_import_inprocess": [],
        }
        os.environ.update({"DATABASE_URL": url, "TWIN_HOME": env["TWIN_HOME"], "TWIN_QUIET": "1"})
        for _ in range(args.runs):
            samples["ogr2ogr"].append(_timed(ogr, env))
            samples["twin_import_cli"].append(_timed(ours, env))
            with connect(url) as conn:
                conn.autocommit = True
                start = time.perf_counter()
                report = import_file(
                    conn,
                    source,
                    mapping_path=ROOT / "twin" / "importers" / "mappings" / "almaty_blocks.yml",
                )
                samples["twin_import_inprocess"].append(time.perf_counter() - start)
            assert report.loaded == features, report.lines()
        figures = {key: _figures(values, features) for key, values in samples.items()}
        print(
            json.dumps(
                {
                    "benchmark": "imports",
                    "features": features,
                    "runs": args.runs,
                    "source": f"Almaty blocks x{args.copies} (GeoPackage)",
                    **figures,
                    "ratio_cli_vs_ogr2ogr": round(
                        figures["twin_import_cli"]["median_s"] / figures["ogr2ogr"]["median_s"], 2
                    ),
                    "ratio_inprocess_vs_ogr2ogr": round(
                        figures["twin_import_inprocess"]["median_s"]
                        / figures["ogr2ogr"]["median_s"],
                        2,
                    ),
                    "note": "ogr2ogr copies only; twin import also maps, converts, validates, "
                    "repairs and records provenance, in one transaction",
                }
            )
        )
    finally:
        from twin.db.pool import close_pools

        close_pools()
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        shutil.rmtree(work, ignore_errors=True)
