"""`twin sensors broker start|stop|status` and `twin sensors stats` (the MQTT side of
`twin sensors`, added to its group by twin/sensors/cli.py)."""

from __future__ import annotations

import click
import orjson

from twin.errors import TwinError


@click.group("broker")
def broker() -> None:
    """The twin's own MQTT broker (mosquitto on 127.0.0.1:TWIN_MQTT_PORT, under TWIN_HOME)."""


@broker.command("start")
@click.option("--port", type=int, help="Listen here (default: TWIN_MQTT_PORT).")
def broker_start(port: int | None) -> None:
    """Start the broker (a no-op when it runs); print its URL."""
    from twin.sensors.broker import start_broker

    click.echo(start_broker(port).url)


@broker.command("stop")
def broker_stop() -> None:
    """Stop the broker."""
    from twin.sensors.broker import stop_broker

    click.echo("stopped" if stop_broker() else "no broker runs")


@broker.command("reload")
def broker_reload() -> None:
    """Write the broker's accounts (the twin's, every active sensor key) and ACL again from
    the database and make it reload them (keys and Datastreams do this themselves)."""
    from twin.db.pool import connect
    from twin.sensors.broker import broker_dir, reload_accounts

    with connect() as conn:
        reloaded = reload_accounts(conn, broker_dir())
        conn.commit()
    click.echo("reloaded" if reloaded else "accounts unchanged (or the broker does not run)")


@broker.command("status")
def broker_status_command() -> None:
    """Where the broker runs, or that it does not (exit status 1)."""
    from twin.sensors.broker import broker_status

    status = broker_status()
    if status == "not running":
        raise TwinError("the twin's broker is not running: `twin sensors broker start`")
    click.echo(status)


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="The whole status document as JSON.")
def stats(as_json: bool) -> None:
    """What the MQTT bridge received, stored, refused (by reason) and published."""
    from twin.db.pool import connect
    from twin.sensors.mqtt import bridge_status

    with connect() as conn:
        status = bridge_status(conn)
    if as_json:
        click.echo(orjson.dumps(status).decode())
        return
    bridge = status["bridge"] or {}
    click.echo(
        f"mqtt: {'on, ' + status['broker'] if status['enabled'] else 'off'}; bridge "
        f"{'connected' if bridge.get('connected') else 'not connected'}"
    )
    for name in ("received", "ingested", "refused", "published", "reconnects"):
        click.echo(f"  {name:<11} {bridge.get(name, 0):>12,}")
    for row in status["refusals"]:
        click.echo(f"  refused {row['reason']:<20} {row['n']:>10,}  e.g. {row['last_detail']}")
