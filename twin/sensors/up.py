"""What `twin up` starts for the live city beside PostgreSQL: the twin's MQTT broker (unless
TWIN_MQTT_URL names another, or `off`), and on the small demo a gentle sensor simulator
(TWIN_SIMULATE_RATE observations/s, 0: off) so that the demo's sensors move."""

from __future__ import annotations

import logging

import click

LOG = logging.getLogger("twin.sensors.up")


def start_live_city(host: str, port: int, scale: str) -> None:
    """Start the broker and (small demo) the simulator; a failure of either is said and
    skipped: the twin serves without MQTT or without moving sensors."""
    from twin.db.cluster import database_url
    from twin.errors import TwinError
    from twin.sensors.broker import start_broker
    from twin.sensors.simulate import start_background_simulator
    from twin.settings import get_settings

    settings = get_settings().mqtt
    if not settings.url:
        try:
            click.echo(f"mqtt broker: {start_broker().url}")
        except TwinError as exc:
            click.echo(f"mqtt broker not started ({exc}): MQTT is off", err=True)
    if scale == "small" and settings.simulate_rate > 0:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        if start_background_simulator(
            database_url(), settings.simulate_rate, f"http://{shown}:{port}"
        ):
            click.echo(
                f"sensor simulator: {settings.simulate_rate:g} observations/s "
                "(TWIN_SIMULATE_RATE=0 turns it off)"
            )
