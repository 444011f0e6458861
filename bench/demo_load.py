"""`twin bench demo_load [--scale small|city] [--repeat N] [--seed N]`: how long the demo city
takes to generate and to load, against the raw floor of writing the same rows.

Each repeat generates the city and loads it through twin.store.write_layer (the path every
importer uses: COPY into staging, geometry cast, indexes, triggers, provenance), replacing the
twin's layers with the same deterministic city. The comparison is raw SQL: the same plot rows
sent with one COPY into an unindexed temporary table, which is what any loader must pay at least.
Prints ONE JSON line: medians and p95 of generate/load/total seconds, rows per second, and the
ratio of write_layer to raw COPY for the plots layer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import shapely


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def _raw_copy_seconds(conn, frame) -> float:
    """COPY of the plot rows (text columns + WKB) into a bare temporary table."""
    from psycopg import sql

    wkb = shapely.to_wkb(frame.geometry.values, hex=False)
    rows = list(
        zip(
            frame.cadastral_number.tolist(),
            frame.land_use.tolist(),
            frame.area_m2.astype(float).tolist(),
            wkb,
        )
    )
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE bench_plots (cadastral_number text, land_use text, "
                "area_m2 double precision, g bytea) ON COMMIT DROP"
            )
        )
        with conn.cursor().copy(sql.SQL("COPY bench_plots FROM STDIN")) as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench demo_load")
    parser.add_argument("--scale", choices=["small", "city"], default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")

    from twin.db.pool import connect
    from twin.demo.generator import generate, load
    from twin.sqlfiles import query
    from twin.store import Provenance, write_layer

    generate_s, load_s, raw_s, plots_s, rows = [], [], [], [], 0
    with connect() as conn:
        for _ in range(args.repeat):
            started = time.perf_counter()
            city = generate(args.scale, args.seed)
            generate_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            counts = load(conn, city)
            conn.commit()
            load_s.append(time.perf_counter() - started)
            rows = sum(counts.values())
            plots = city.layers["plots"].to_crs(4326)
            started = time.perf_counter()
            with conn.transaction():  # as the demo load writes it: no feature history
                if conn.execute(query("demo/history_table_exists")).fetchone()[0]:
                    conn.execute(query("demo/set_history"), {"value": "off"})
                write_layer(
                    conn,
                    "plots",
                    plots,
                    Provenance(
                        source=f"Almaty Twin demo generator (seed {args.seed}, scale {args.scale})",
                        licence="CC0-1.0",
                        synthetic=True,
                        details=city.details,
                    ),
                )
            conn.commit()
            plots_s.append(time.perf_counter() - started)
            raw_s.append(_raw_copy_seconds(conn, plots))
    total = [generating + loading for generating, loading in zip(generate_s, load_s)]
    print(
        json.dumps(
            {
                "bench": "demo_load",
                "scale": args.scale,
                "seed": args.seed,
                "repeat": args.repeat,
                "rows": rows,
                "generate_s": {
                    "p50": round(statistics.median(generate_s), 2),
                    "p95": round(_p95(generate_s), 2),
                },
                "load_s": {
                    "p50": round(statistics.median(load_s), 2),
                    "p95": round(_p95(load_s), 2),
                },
                "total_s": {
                    "p50": round(statistics.median(total), 2),
                    "p95": round(_p95(total), 2),
                },
                "rows_per_s": round(rows / statistics.median(load_s)),
                "plots_write_layer_s": round(statistics.median(plots_s), 2),
                "plots_raw_copy_s": round(statistics.median(raw_s), 2),
                "ratio_write_layer_to_raw_copy": round(
                    statistics.median(plots_s) / statistics.median(raw_s), 2
                ),
            }
        )
    )
