"""Evaluating plans: now (POST evaluate, compare, report) or a moment after a change.

`evaluate_now` runs the engine (twin.plans.evaluate.evaluate_plan) on the city as the server
holds it (twin.analysis.city.current_city) and stores the answer with the plan's cells
(twin.plans.store). A change of a plan's edits or mode schedules an evaluation
`settings.plans.evaluate_delay_s` later; another change before then moves it on
(debounced: several quick PATCHes, one evaluation). The plan says "pending" meanwhile, and
"failed" with the reason when the engine refuses it (an amenity it removes was deleted since).

An evaluation is stored only if the plan is still at the version it was made for, so a slow
evaluation never overwrites a newer one; evaluations are CPU work, so one server process runs
at most `settings.plans.concurrent_evaluations` at once. Timers live in the process that took
the change; a plan left pending by a restart is scheduled again when it is next read.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from twin.db.pool import connection
from twin.errors import NotFound, TwinError
from twin.plans import store
from twin.settings import get_settings

LOG = logging.getLogger("twin.plans.worker")
ATTEMPTS = 3  # evaluations of a plan that keeps changing under us, before we give up waiting

_turns: threading.BoundedSemaphore | None = None
_turns_lock = threading.Lock()
_plan_locks: dict[int, threading.Lock] = {}


def _evaluation_turn() -> threading.BoundedSemaphore:
    global _turns
    with _turns_lock:
        if _turns is None:
            _turns = threading.BoundedSemaphore(max(1, get_settings().plans.concurrent_evaluations))
        return _turns


def _plan_lock(plan_id: int) -> threading.Lock:
    """One evaluation of a plan at a time: a second request for the same plan waits for the
    first and takes its answer instead of computing it again (a timer that fired and an
    explicit evaluate, or two readers of a stale plan's report)."""
    with _turns_lock:
        return _plan_locks.setdefault(plan_id, threading.Lock())


def base_version_now() -> str:
    """The twin's data version plans are evaluated on now (cheap: no city load)."""
    from twin.plans.evaluate import current_base_version

    with connection(timeout=10) as conn:
        return current_base_version(conn)


def evaluate_edits(edits: dict[str, Any], mode: str) -> dict[str, Any]:
    """The engine's evaluation of `edits` on the current city (no plan stored)."""
    from twin.analysis.city import current_city
    from twin.plans.edits import parse_edits
    from twin.plans.evaluate import evaluate_plan

    with _evaluation_turn(), connection(timeout=30) as conn:
        city = current_city(conn)
        parsed = parse_edits(edits, city)
        started = time.perf_counter()
        evaluation = evaluate_plan(city, parsed, mode, conn=conn)  # conn: the measures' context
        LOG.info(
            "plan evaluated",
            extra={"fields": {"ms": round((time.perf_counter() - started) * 1000, 1)}},
        )
        return evaluation


def evaluate_now(plan_id: int, author: str) -> dict[str, Any]:
    """Evaluate the plan as it is and store the answer; the stored plan row. If the plan
    changes while it is evaluated, the newer version is evaluated (a few times at most)."""
    for _ in range(ATTEMPTS):
        with _plan_lock(plan_id):
            stored = _evaluate_once(plan_id, author)
        if stored is not None:
            return stored
    with connection(timeout=10) as conn:
        latest = store.plan_row(conn, plan_id)
    if latest is None:
        raise NotFound(f"no plan {plan_id}")
    return latest


def _evaluate_once(plan_id: int, author: str) -> dict[str, Any] | None:
    """The plan evaluated at its current version (None when it changed meanwhile); a plan
    already evaluated at this version on today's data is answered as stored."""
    with connection(timeout=10) as conn:
        plan = store.plan_row(conn, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    if plan.get("edits") and not needs_evaluation(plan, base_version_now()):
        return plan
    try:
        evaluation = evaluate_edits(plan["edits"], plan["mode"])
    except TwinError as exc:
        with connection(timeout=10) as conn:
            store.store_failure(conn, plan_id, plan["version"], str(exc))
        raise
    with connection(timeout=10) as conn:
        return store.store_evaluation(conn, plan_id, plan["version"], evaluation, author)


def needs_evaluation(plan: dict[str, Any], current_base: str | None) -> bool:
    """Whether the stored evaluation is missing, of an older version, or of an older base."""
    return (
        plan.get("evaluation") is None
        or plan.get("evaluated_version") != plan["version"]
        or plan.get("status") != "evaluated"
        or (current_base is not None and plan.get("base_version") != current_base)
    )


class Debouncer:
    """One timer per plan: a change (re)starts it; when it fires, the plan is evaluated."""

    def __init__(self) -> None:
        self._timers: dict[int, threading.Timer] = {}
        self._lock = threading.Lock()

    def schedule(self, plan_id: int, author: str, delay: float | None = None) -> None:
        wait = get_settings().plans.evaluate_delay_s if delay is None else delay
        timer = threading.Timer(max(0.0, wait), self._fire, args=(plan_id, author))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop(plan_id, None)
            if old is not None:
                old.cancel()
            self._timers[plan_id] = timer
        timer.start()

    def scheduled(self, plan_id: int) -> bool:
        with self._lock:
            return plan_id in self._timers

    def cancel(self, plan_id: int) -> None:
        with self._lock:
            old = self._timers.pop(plan_id, None)
        if old is not None:
            old.cancel()

    def _fire(self, plan_id: int, author: str) -> None:
        with self._lock:
            mine = self._timers.get(plan_id)
            if mine is not threading.current_thread():
                return  # superseded by a later change
        try:
            evaluate_now(plan_id, author)
        except NotFound:
            pass  # deleted meanwhile
        except TwinError as exc:
            LOG.info(
                "plan evaluation refused",
                extra={"fields": {"plan": plan_id, "reason": str(exc)[:300]}},
            )
        except Exception:  # a bug: the plan says failed, the log has the trace
            LOG.exception("plan evaluation failed", extra={"fields": {"plan": plan_id}})
            try:
                with connection(timeout=10) as conn:
                    plan = store.plan_row(conn, plan_id)
                    if plan is not None:
                        store.store_failure(
                            conn, plan_id, plan["version"], "the evaluation failed (a bug)"
                        )
            except Exception:
                LOG.exception("could not mark the plan failed")
        finally:
            with self._lock:
                if self._timers.get(plan_id) is threading.current_thread():
                    del self._timers[plan_id]


DEBOUNCER = Debouncer()
