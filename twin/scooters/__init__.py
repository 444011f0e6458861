"""Scooter operations: the operators' GBFS v3 feeds polled into positions over time, parking
disorder and the key sections' occupancy, the city's zones published as GBFS and MDS, and the
demo's simulated operators (docs/scooters.md). H8's trips and crashes live beside them."""

from __future__ import annotations

from typing import Any


def bench_gbfs(conn: Any, rounds: int = 5) -> dict[str, Any]:
    """The GBFS ingest figures of `twin bench mobility_ops` (twin.scooters.demo.bench_gbfs)."""
    from twin.scooters.demo import bench_gbfs as run

    return run(conn, rounds)
