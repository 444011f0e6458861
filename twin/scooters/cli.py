"""`twin scooters`: the operators whose GBFS feeds the twin polls, their health, a poll now, and
a simulated day of the demo operators."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click
import orjson

from twin.errors import TwinError


@click.group("scooters")
def scooters() -> None:
    """Scooter operators' GBFS feeds (docs/scooters.md)."""


@scooters.group("operators")
def operators() -> None:
    """The operators polled by the server (one gbfs.json each)."""


@operators.command("add")
@click.argument("name")
@click.argument("url")
def operators_add(name: str, url: str) -> None:
    """Poll operator NAME at URL (its gbfs.json); an existing NAME gets the new URL."""
    from twin.db.pool import connect
    from twin.scooters.status import add_operator

    with connect() as conn:
        add_operator(conn, name, url)
    click.echo(f"operator {name} added: {url} (a running server polls it within seconds)")


@operators.command("remove")
@click.argument("name")
def operators_remove(name: str) -> None:
    """Stop polling operator NAME (its positions stay)."""
    from twin.db.pool import connect
    from twin.sqlfiles import query

    with connect() as conn:
        if not conn.execute(query("scooters/remove_operator"), {"name": name}).fetchone():
            raise TwinError(f"no operator {name!r}")
    click.echo(f"operator {name} removed")


@scooters.command("status")
@click.option("--json", "as_json", is_flag=True, help="The document of GET /scooters/feeds.")
def status(as_json: bool) -> None:
    """Each operator's latest poll and its outcomes by reason (last 24 hours)."""
    from twin.db.pool import connect
    from twin.scooters.status import feeds_document

    with connect() as conn:
        document = feeds_document(conn, limit=20)
    if as_json:
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    if not document["operators"]:
        click.echo("no operators: `twin scooters operators add NAME URL`")
    for op in document["operators"]:
        latest = op["latest"] or {}
        counts = ", ".join(f"{k} {n}" for k, n in sorted(op["outcomes_24h"].items())) or "none"
        click.echo(
            f"{op['name']}: {latest.get('outcome', 'not polled yet')}"
            f"{' (' + latest['reason'] + ')' if latest.get('reason') else ''}, "
            f"{latest.get('vehicles', 0)} vehicles; 24 h: {counts}; {op['url']}"
        )
        for problem in latest.get("problems", []):
            click.echo(f"    {problem}")


@scooters.command("poll")
@click.argument("name", required=False)
def poll_now(name: str | None) -> None:
    """Poll every operator (or NAME) once now, whatever its schedule."""
    from twin.db.pool import connect
    from twin.scooters.poller import poll
    from twin.scooters.status import feeds_document

    with connect() as conn:
        known = {op["name"]: op["url"] for op in feeds_document(conn, 1)["operators"]}
        if name is not None and name not in known:
            raise TwinError(f"no operator {name!r}; known: {', '.join(known) or 'none'}")
        for each, url in known.items():
            if name in (None, each):
                outcome = poll(conn, each, url)
                reason = f" ({outcome.reason})" if outcome.reason else ""
                click.echo(
                    f"{each}: {outcome.outcome}{reason}, {outcome.vehicles} vehicles "
                    f"in {outcome.duration_ms:.0f} ms"
                )


@scooters.command("retain")
def retain_command() -> None:
    """Sum the closed hours' positions per H3 cell and drop raw days past
    TWIN_SCOOTERS_RAW_DAYS (a polling server does this hourly by itself)."""
    from twin.db.pool import connect
    from twin.scooters.retention import retain

    with connect() as conn:
        report = retain(conn)
        conn.commit()
    since = report.aggregated_from.isoformat() if report.aggregated_from else "nothing new"
    click.echo(
        f"hours summed since {since} to {report.aggregated_to.isoformat()}: "
        f"{report.cell_rows} cell rows; {len(report.dropped)} raw day partitions dropped"
        + (f" ({', '.join(report.dropped)})" if report.dropped else "")
    )


@scooters.command("demo-day")
@click.option("--day", default=None, help="The day (YYYY-MM-DD, UTC); default: yesterday.")
def demo_day(day: str | None) -> None:
    """Store a simulated day of the three demo operators (one poll each per hour), so the time
    slider has a day of scooters; the server's own demo feeds serve the same positions."""
    from datetime import timedelta

    from twin.db.pool import connect
    from twin.scooters.demo import store_demo_day

    when = date.fromisoformat(day) if day else datetime.now(UTC).date() - timedelta(days=1)
    with connect() as conn:
        counts = store_demo_day(conn, when)
    click.echo(
        f"stored {counts['polls']} polls ({counts['vehicles']:,} positions) of "
        f"{when.isoformat()} for {', '.join(counts['operators'])}"
    )
