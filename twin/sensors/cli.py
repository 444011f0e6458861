"""`twin sensors`: sensor keys and retention (docs/sensors.md)."""

from __future__ import annotations

import click

from twin.sensors.mqtt_cli import broker, stats


@click.group("sensors")
def sensors() -> None:
    """Live sensors (SensorThings): keys that may post Observations, retention."""


sensors.add_command(broker)  # `twin sensors broker start|stop|status` (twin/sensors/broker.py)
sensors.add_command(stats)  # `twin sensors stats`: the MQTT bridge's counts (twin/sensors/mqtt.py)


@sensors.group("keys")
def keys() -> None:
    """Sensor keys: a key per data provider or per Thing, shown once, stored hashed."""


@keys.command("add")
@click.option("--provider", help="The data provider (made if new) whose Things the key feeds.")
@click.option("--thing", "thing_id", type=int, help="The one Thing (its @iot.id) the key feeds.")
@click.option("--label", default="", help="A note to tell keys apart in `keys list`.")
def keys_add(provider: str | None, thing_id: int | None, label: str) -> None:
    """Make a sensor key and print it (only its hash is kept)."""
    from twin.db.pool import connect
    from twin.sensors.keys import add_key

    with connect() as conn:
        key = add_key(conn, provider=provider, thing_id=thing_id, label=label)
        conn.commit()
    click.echo(key)
    whose = f"provider {provider}" if provider else f"Thing {thing_id}"
    click.echo(
        f"sensor key for {whose}: it posts Observations to their Datastreams; send it as "
        "`X-API-Key: <key>` or `Authorization: Bearer <key>`, or log in to the twin's MQTT "
        f"broker as user {key.split('_')[1]} with the key as password; it is not shown again",
        err=True,
    )


@keys.command("list")
def keys_list() -> None:
    """Sensor keys: id, label, provider or Thing, and whether active."""
    from twin.db.pool import connect
    from twin.sqlfiles import query

    with connect() as conn:
        rows = conn.execute(query("sensors/list_keys")).fetchall()
    if not rows:
        click.echo("no sensor keys yet: `twin sensors keys add --provider NAME`")
    for key_id, label, provider, thing_id, created_at, revoked_at in rows:
        whose = f"provider {provider}" if provider else f"thing {thing_id}"
        state = f"revoked {revoked_at:%Y-%m-%d %H:%M}" if revoked_at else "active"
        click.echo(
            f"sta_{key_id}_…\t{label}\t{whose}\tcreated {created_at:%Y-%m-%d %H:%M}\t{state}"
        )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a sensor key (its id as `keys list` shows it, or the whole key) at once."""
    from twin.db.pool import connect
    from twin.sensors.keys import revoke_key

    with connect() as conn:
        revoke_key(conn, key_id)
        conn.commit()
    click.echo(f"revoked {key_id.split('_')[1] if key_id.startswith('sta_') else key_id}")


@sensors.command("retain")
def retain_command() -> None:
    """Aggregate closed hours, drop raw days past TWIN_STA_RAW_DAYS, old hourly rows past
    TWIN_STA_HOURLY_DAYS (run it daily, e.g. from cron)."""
    from twin.db.pool import connect
    from twin.sensors.retention import retain

    with connect() as conn:
        report = retain(conn)
        conn.commit()
    click.echo(
        f"{report.hourly_rows} hourly aggregates written "
        f"({report.late_hours} late hours aggregated again); "
        f"{len(report.dropped)} raw day partitions dropped"
        + (f" ({report.dropped[0]} … {report.dropped[-1]})" if len(report.dropped) > 1 else "")
        + f"; {report.hourly_deleted} old hourly aggregates deleted"
    )


@sensors.command("derive")
def derive_command() -> None:
    """Rewrite the layers derived from the sensors (sensors, lamp_faults,
    district_air_quality, meter_deviations) from the data now (twin/sensors/derived.py)."""
    from twin.sensors.derived import derive

    click.echo(derive())
