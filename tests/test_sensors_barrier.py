"""The retention mark waits for the batches in flight (#20, twin/sensors/retention.py).

A gateway's batch is being written (its transaction open) when the hourly retention run starts.
The batch read retention's late mark when it began: its reading, half a day old by that mark,
was not late, so the batch notes nothing. The run must not move the mark past it until the
batch commits (the batch holds the mark's row FOR SHARE); then the run's aggregates see the
reading. Without that barrier the run would aggregate the hour without the reading, move its
mark two days on, and no later run would ever aggregate that hour again: the chart's hourly
figure would stay wrong for good.

The last story: an edit caught in a lock cycle with a run is written again, not refused.

Two real connections on two threads, in a database of the module's own (its marks are the
story's). Hand-computed: the hour holds 10 (aggregated before); the batch adds 42 → n 2,
mean 26, min 10, max 42.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from conftest import wait_for
from twin.sensors.ingest import ingest_observations
from twin.sensors.retention import retain
from twin.sensors.store import delete, update
from twin.sqlfiles import query

pytestmark = pytest.mark.own_database
UTC = dt.UTC
DAY = dt.datetime(2020, 3, 10, tzinfo=UTC)
HOUR = DAY + dt.timedelta(hours=12)
FIRST_RUN = DAY + dt.timedelta(days=1)  # its mark: the batch's reading is not late under it
NEXT_RUN = DAY + dt.timedelta(days=3)  # two days on: runs after it never reach the hour


def reading(stream: int, moment: dt.datetime, value: float) -> dict[str, Any]:
    return {
        "phenomenonTime": moment.isoformat(),
        "result": value,
        "Datastream": {"@iot.id": stream},
    }


def station(db: psycopg.Connection) -> int:
    def one(statement: str, *params: Any) -> int:
        return db.execute(statement, params).fetchone()[0]

    thing = one("INSERT INTO sta_things (name) VALUES ('Barrier station') RETURNING id")
    sensor = one("INSERT INTO sta_sensors (name) VALUES ('SDS011') RETURNING id")
    prop = one(
        "INSERT INTO sta_observed_properties (name, definition) "
        "VALUES ('PM2.5', 'urn:pm25') RETURNING id"
    )
    return one(
        "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, sensor_id, "
        "observed_property_id) VALUES ('PM2.5', 'OM_Measurement', 'number', %s, %s, %s) "
        "RETURNING id",
        thing,
        sensor,
        prop,
    )


def hour_figures(db: psycopg.Connection, stream: int, hour: dt.datetime) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT n, mean, min, max FROM sta_observations_hourly "
        "WHERE datastream_id = %s AND hour = %s",
        (stream, hour),
    ).fetchone()


def waits_on(db: psycopg.Connection, pid: int, what: str) -> None:
    """Some connection of the database waits, and for backend `pid` alone."""
    blockers = wait_for(
        lambda: db.execute(
            "SELECT pg_blocking_pids(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
        ).fetchone(),
        10,
        what,
    )
    assert blockers == ([pid],), (what, blockers)


def retention_beside(
    db: psycopg.Connection,
    url: str,
    writes: Callable[[psycopg.Connection], None],
    run_at: dt.datetime,
    mark: dt.datetime,
    untouched: Callable[[], None],
) -> None:
    """`writes` on a connection of its own, its transaction held open, while a retention run
    (`twin sensors retain`, as cron starts it) begins on another: the run must wait for it on
    the mark's row (the mark still at `mark`, `untouched` still true); the writes commit, the
    run ends."""
    wrote, may_commit = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with psycopg.connect(url) as conn, conn.transaction():
                writes(conn)
                wrote.set()
                assert may_commit.wait(30), "the test never let the writes commit"
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)
            wrote.set()

    def cron(conn: psycopg.Connection) -> None:
        try:
            retain(conn, now=run_at)
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    writing = threading.Thread(target=writer)
    writing.start()
    try:
        assert wrote.wait(30) and not failures, failures
        (writer_pid,) = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
        ).fetchone()
        with psycopg.connect(url) as cron_conn:
            run = threading.Thread(target=cron, args=(cron_conn,))
            run.start()
            try:
                blockers = wait_for(
                    lambda: db.execute(
                        "SELECT pg_blocking_pids(%s)", (cron_conn.info.backend_pid,)
                    ).fetchone()[0],
                    10,
                    "the retention run waits for the writes in flight",
                )
                assert blockers == [writer_pid], failures
                time.sleep(0.5)
                assert run.is_alive()
                assert db.execute("SELECT late_before FROM sta_retention").fetchone() == (mark,)
                untouched()
            finally:
                may_commit.set()
                run.join(60)
        assert not run.is_alive() and not failures, failures
    finally:
        may_commit.set()
        writing.join(30)
    assert db.execute("SELECT late_before FROM sta_retention").fetchone() == (run_at,)


def test_a_batch_in_flight_holds_the_mark_until_it_commits_and_its_hour_is_aggregated(
    db: psycopg.Connection, target: Any
) -> None:
    stream = station(db)
    assert ingest_observations(
        db, [reading(stream, HOUR + dt.timedelta(minutes=5), 10.0)], caller=None
    ).ok
    retain(db, now=FIRST_RUN)
    assert hour_figures(db, stream, HOUR) == (1, 10.0, 10.0, 10.0)

    def batch(conn: psycopg.Connection) -> None:  # the gateway's, half a day old by the mark
        late = reading(stream, HOUR + dt.timedelta(minutes=30), 42.0)
        assert ingest_observations(conn, [late], caller=None).ok

    def unchanged() -> None:
        assert hour_figures(db, stream, HOUR) == (1, 10.0, 10.0, 10.0)

    retention_beside(db, target.url, batch, NEXT_RUN, FIRST_RUN, unchanged)
    # the run went on once the batch committed: its aggregates saw the batch's reading
    assert hour_figures(db, stream, HOUR) == (2, 26.0, 10.0, 42.0)
    retain(db, now=NEXT_RUN)  # the next hourly run leaves it so (nothing noted, nothing lost)
    assert hour_figures(db, stream, HOUR) == (2, 26.0, 10.0, 42.0)


def test_a_correction_in_flight_holds_the_mark_too(db: psycopg.Connection, target: Any) -> None:
    """The same barrier for a PATCH of an Observation (twin.sensors.store): it reads the mark
    FOR SHARE as a batch does. Its reading (5, corrected to 7) is above the mark it read, so it
    notes nothing; the run that waits for it aggregates the corrected 7."""
    stream = station(db)
    base = NEXT_RUN + dt.timedelta(days=7)
    hour = base + dt.timedelta(days=1, hours=6)
    retain(db, now=base + dt.timedelta(days=1))
    report = ingest_observations(
        db, [reading(stream, hour + dt.timedelta(minutes=10), 5.0)], caller=None
    )
    assert report.ok
    (observation,) = report.ids

    def correction(conn: psycopg.Connection) -> None:
        update(conn, "Observations", observation, {"result": 7.0})

    def unaggregated() -> None:
        assert hour_figures(db, stream, hour) is None

    retention_beside(
        db,
        target.url,
        correction,
        base + dt.timedelta(days=3),
        base + dt.timedelta(days=1),
        unaggregated,
    )
    assert hour_figures(db, stream, hour) == (1, 7.0, 7.0, 7.0)
    assert db.execute("SELECT count(*) FROM sta_late_hours").fetchone() == (0,)


def test_a_feature_deleted_across_a_retention_run_is_written_again_after_a_lock_cycle(
    db: psycopg.Connection, target: Any
) -> None:
    """A FeatureOfInterest is deleted while a retention run aggregates the same hour: the run
    has cleared the hour's late note and asks for its aggregate, which the delete has just
    rewritten, and the delete waits to note the hour again. PostgreSQL cancels the delete to
    break the cycle; the twin writes it again once the run has gone on (twin.db.retry), so the
    caller gets its answer, not a database error. Hand-computed: the hour holds 10, 30 (the
    feature's) and a late 20; without the feature: n 2, mean 15."""
    stream = station(db)
    base = NEXT_RUN + dt.timedelta(days=20)
    hour = base + dt.timedelta(hours=6)
    (feature,) = db.execute(
        "INSERT INTO sta_features_of_interest (name, feature) "
        "VALUES ('Kerb', ST_SetSRID(ST_MakePoint(76.95, 43.25), 4326)) RETURNING id"
    ).fetchone()
    first = [
        reading(stream, hour + dt.timedelta(minutes=5), 10.0),
        {
            **reading(stream, hour + dt.timedelta(minutes=20), 30.0),
            "FeatureOfInterest": {"@iot.id": feature},
        },
    ]
    assert ingest_observations(db, first, caller=None).ok
    retain(db, now=base + dt.timedelta(days=2))  # the hour is now more than a day below
    assert hour_figures(db, stream, hour) == (2, 20.0, 10.0, 30.0)
    late = reading(stream, hour + dt.timedelta(minutes=40), 20.0)
    assert ingest_observations(db, [late], caller=None).ok
    assert db.execute("SELECT count(*) FROM sta_late_hours").fetchone() == (1,)  # noted
    (deadlocks,) = db.execute(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()

    failures: list[BaseException] = []

    def deleting() -> None:
        try:
            with psycopg.connect(target.url) as conn:
                delete(conn, "FeaturesOfInterest", feature)
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    with psycopg.connect(target.url) as run:  # the retention run's aggregate step, by hand
        run.execute("SET deadlock_timeout = '10s'")  # the delete notices the cycle first
        run.execute(
            "DELETE FROM sta_late_hours WHERE datastream_id = %s AND hour = %s", (stream, hour)
        )
        worker = threading.Thread(target=deleting)
        worker.start()
        try:
            waits_on(db, run.info.backend_pid, "the delete waits to note the hour the run cleared")
            run.execute(  # the run asks for the aggregate the delete holds: a cycle
                "UPDATE sta_observations_hourly SET n = n WHERE datastream_id = %s AND hour = %s",
                (stream, hour),
            )
            run.commit()
        finally:
            worker.join(30)
    assert not worker.is_alive() and not failures, failures
    wait_for(
        lambda: db.execute(
            "SELECT deadlocks > %s FROM pg_stat_database WHERE datname = current_database()",
            (deadlocks,),
        ).fetchone()[0],
        10,
        "PostgreSQL broke a lock cycle",
    )
    assert db.execute(
        "SELECT count(*) FROM sta_features_of_interest WHERE id = %s", (feature,)
    ).fetchone() == (0,)
    assert hour_figures(db, stream, hour) == (2, 15.0, 10.0, 20.0)
    retain(db, now=base + dt.timedelta(days=3))  # the next run agrees
    assert hour_figures(db, stream, hour) == (2, 15.0, 10.0, 20.0)


@pytest.mark.parametrize("first", ["the edit", "the run"])
def test_an_hour_emptied_while_a_run_aggregates_it_keeps_no_aggregate(
    db: psycopg.Connection, target: Any, first: str
) -> None:
    """A retention run's aggregate step (its two statements, by hand on a connection of its
    own) and the deletion of the hour's only reading overlap, either one first: whichever
    waits for the other, the hour ends with no aggregate (no chart shows a reading that is
    gone), and the next run leaves it so and clears what was noted."""
    stream = station(db)
    base = NEXT_RUN + dt.timedelta(days=40 if first == "the edit" else 50)
    hour = base + dt.timedelta(hours=6)
    report = ingest_observations(
        db, [reading(stream, hour + dt.timedelta(minutes=5), 12.0)], caller=None
    )
    (only,) = report.ids
    retain(db, now=base + dt.timedelta(days=2))
    assert hour_figures(db, stream, hour) == (1, 12.0, 12.0, 12.0)
    window = {"start": base, "end": base + dt.timedelta(days=2)}
    failures: list[BaseException] = []

    def in_thread(work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # handed to the test's thread
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with psycopg.connect(target.url) as run, psycopg.connect(target.url) as edit:
        if first == "the edit":
            edit.execute("SELECT 1")  # the deletion's transaction stays open
            delete(edit, "Observations", only)

            def aggregate() -> None:
                run.execute(query("sensors/aggregate_hours"), window)
                run.execute(query("sensors/aggregate_late_hours"))
                run.commit()

            thread = in_thread(aggregate)
            waits_on(db, edit.info.backend_pid, "the run waits for the edit")
            edit.commit()
        else:
            run.execute(query("sensors/aggregate_hours"), window)
            thread = in_thread(lambda: delete(edit, "Observations", only))
            waits_on(db, run.info.backend_pid, "the edit waits for the run")
            run.execute(query("sensors/aggregate_late_hours"))
            run.commit()
        thread.join(30)
    assert not thread.is_alive() and not failures, failures
    assert hour_figures(db, stream, hour) is None
    retain(db, now=base + dt.timedelta(days=3))
    assert hour_figures(db, stream, hour) is None
    assert db.execute(
        "SELECT count(*) FROM sta_late_hours WHERE datastream_id = %s", (stream,)
    ).fetchone() == (0,)
