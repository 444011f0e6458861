"""Polling the scooter operators' GBFS feeds beside the server, one poller per database.

`twin serve` starts the poller (unless TWIN_SCOOTERS_POLL=off or the server is read-only): a
daemon thread of the server's main process (the supervisor's with `--workers N`). It is a
thread, not a process like the analysis refresher, because its work is waiting on the network
and on PostgreSQL (a poll of 15,000 vehicles holds the interpreter for about a tenth of a
second) and an idle poller costs one query a second; a process would cost every server,
polling or not, a second interpreter. Of several servers over one database, the one holding the
advisory lock polls; the others wait to take over.

Once an hour (and when it starts) the poller also runs the retention of positions
(twin.scooters.retention: closed hours summed per H3 cell, raw days past
TWIN_SCOOTERS_RAW_DAYS dropped).

Each operator (scooter_operators, `twin scooters operators add NAME URL`) is polled when due:
gbfs.json, then the feeds the twin reads (twin.scooters.gbfs.READ_FEEDS) that it lists. An
operator that does not answer (connection refused, timeout, HTTP error) is recorded as
`unreachable` with the error, like a refused feed; either failure doubles the wait before the
next try (5 s, 10 s, ... up to TWIN_SCOOTERS_MAX_BACKOFF_S). A success waits the feed's ttl, at
least TWIN_SCOOTERS_MIN_INTERVAL_S. Nothing an operator sends stops the poller or the server.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import httpx
import psycopg

from twin.scooters.gbfs import (
    MAX_DOCUMENT_BYTES,
    READ_FEEDS,
    FeedRejected,
    feed_urls,
    read_document,
    utc_now,
)
from twin.scooters.ingest import PollOutcome, city_frame, ingest, record
from twin.scooters.retention import RETAIN_EVERY_S, retain
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.scooters.poller")

TICK_S = 1.0
FIRST_BACKOFF_S = 5.0
TIMEOUT_S = 10.0
LOCK_SPACE = 7214  # advisory lock space of the scooter poller
LEADER_LOCK = 1
POLLER_NAME = "twin scooter poller"


class Unreachable(Exception):
    """The operator's server did not give a document (the message says why)."""


def _get(client: httpx.Client, url: str) -> bytes:
    try:
        with client.stream("GET", url) as answer:
            if answer.status_code != 200:
                raise Unreachable(f"{url}: HTTP {answer.status_code}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FeedRejected("too_large", [f"{url}: over {MAX_DOCUMENT_BYTES} bytes"])
            return bytes(body)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from None


def fetch(client: httpx.Client, url: str, now: datetime) -> dict[str, bytes]:
    """gbfs.json at `url` and the feeds of READ_FEEDS it lists, as raw documents."""
    raw = {"gbfs": _get(client, url)}
    urls = feed_urls(read_document(raw["gbfs"], "gbfs", now))
    for feed in READ_FEEDS:
        if feed in urls:
            raw[feed] = _get(client, urls[feed])
    return raw


def poll(
    conn: psycopg.Connection, operator: str, url: str, client: httpx.Client | None = None
) -> PollOutcome:
    """Poll one operator now: fetch, check, store (or record the refusal), schedule the next."""
    now = utc_now()
    started = time.perf_counter()
    own = client is None
    client = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=True)
    try:
        raw = fetch(client, url, now)
    except Unreachable as exc:
        outcome = PollOutcome(operator, now, "unreachable", "unreachable", [str(exc)], 1)
    except FeedRejected as exc:
        outcome = PollOutcome(operator, now, "rejected", exc.reason, exc.problems, exc.count)
    else:
        outcome = ingest(conn, operator, raw, now, city_frame(conn))
    finally:
        if own:
            client.close()
    if outcome.outcome != "stored" and not outcome.duration_ms:
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        record(conn, outcome)
    schedule(conn, outcome)
    return outcome


def schedule(conn: psycopg.Connection, outcome: PollOutcome) -> int:
    """Set the operator's next poll from the outcome; its failures in a row are returned."""
    settings = get_settings().scooters
    ok = outcome.outcome == "stored"
    row = conn.execute(
        query("scooters/schedule"),
        {
            "operator": outcome.operator,
            "ok": ok,
            "ok_wait_s": max(float(outcome.ttl), settings.min_interval_s),
            "first_backoff_s": FIRST_BACKOFF_S,
            "max_backoff_s": settings.max_backoff_s,
            "polled_at": outcome.polled_at,
        },
    ).fetchone()
    return row[0] if row else 0


def poll_due(conn: psycopg.Connection, client: httpx.Client) -> list[PollOutcome]:
    """Poll every enabled operator whose time has come."""
    due = conn.execute(query("scooters/due_operators")).fetchall()
    done = []
    for name, url in due:
        try:
            done.append(poll(conn, name, url, client))
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except Exception:  # a poll that fails in an unforeseen way must not stop the others
            LOG.exception("scooter poll failed", extra={"fields": {"operator": name}})
            schedule(conn, PollOutcome(name, utc_now(), "unreachable"))
    return done


def _retain(conn: psycopg.Connection) -> None:
    """The hourly retention of positions (twin.scooters.retention); a failure is logged and
    polling goes on."""
    try:
        report = retain(conn)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except psycopg.Error:
        LOG.exception("scooter retention failed")
        return
    LOG.info("scooter retention", extra={"fields": report.as_json()})


def _serve_forever(stop: threading.Event) -> None:
    from twin.db.cluster import session_database_url

    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
        while not stop.is_set():
            try:
                with psycopg.connect(
                    session_database_url(), autocommit=True, application_name=POLLER_NAME
                ) as conn:
                    while not conn.execute(
                        query("scooters/try_lock"), {"space": LOCK_SPACE, "key": LEADER_LOCK}
                    ).fetchone()[0]:
                        if stop.wait(5 * TICK_S):
                            return
                    retained = time.monotonic() - RETAIN_EVERY_S  # at once
                    while not stop.is_set():
                        poll_due(conn, client)
                        if time.monotonic() - retained >= RETAIN_EVERY_S:
                            retained = time.monotonic()
                            _retain(conn)
                        stop.wait(TICK_S)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                LOG.warning(
                    "scooter poller lost the database; retrying",
                    extra={"fields": {"error": str(exc).splitlines()[0] if str(exc) else ""}},
                )
                stop.wait(5 * TICK_S)
            except Exception:
                LOG.exception("scooter poller failed; retrying")
                stop.wait(5 * TICK_S)


def start_poller() -> threading.Thread | None:
    """Start the server's scooter poller (a daemon thread), unless TWIN_SCOOTERS_POLL=off."""
    if not get_settings().scooters.poll:
        return None
    thread = threading.Thread(
        target=_serve_forever, args=(threading.Event(),), daemon=True, name=POLLER_NAME
    )
    thread.start()
    return thread
