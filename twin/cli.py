"""The `twin` command line."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from twin import logs
from twin.errors import TwinError

if TYPE_CHECKING:  # uvicorn loads only when a server starts, not for every command
    import uvicorn
    from uvicorn.supervisors import Multiprocess


class TwinGroup(click.Group):
    """Turns a TwinError into a one-line message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except TwinError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=TwinGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Almaty Twin: the city as OGC API, with 15-minute-city analysis and a 3D viewer."""
    logs.setup(verbose)


@cli.group(cls=TwinGroup)
def db() -> None:
    """The database: the embedded PostGIS under .twin/, or DATABASE_URL when set."""


@db.command("start")
def db_start() -> None:
    """Start the embedded PostGIS (initialising it on first use)."""
    from twin.db.cluster import embedded_cluster
    from twin.settings import get_settings

    if get_settings().database_url:
        click.echo("DATABASE_URL is set: using that server, not starting an embedded one")
        return
    click.echo(embedded_cluster().start())


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS."""
    from twin.db.cluster import embedded_cluster

    embedded_cluster().stop()
    click.echo("stopped")


@db.command("status")
def db_status() -> None:
    """Say whether the database answers."""
    from twin.db.cluster import database_url
    from twin.db.pool import connect

    url = database_url()
    with connect(url) as conn:
        version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    click.echo(f"up: {url} (PostGIS {version})")


@db.command("url")
def db_url() -> None:
    """Print the database URL the twin uses."""
    from twin.db.cluster import database_url

    click.echo(database_url())


@db.group("replica", cls=TwinGroup, invoke_without_command=True)
@click.option(
    "--from",
    "primary",
    metavar="URL",
    help="The primary to copy and follow (default: the twin's database).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the replica lives (default: TWIN_HOME/replica).",
)
@click.option("--port", type=int, help="The replica's port (default: a free one).")
@click.pass_context
def db_replica(
    ctx: click.Context, primary: str | None, directory: Path | None, port: int | None
) -> None:
    """Start a streaming read replica (pg_basebackup the first time), print its URL; serve
    it with DATABASE_URL=<its URL> twin serve --read-only (docs/scaling.md)."""
    ctx.ensure_object(dict)["replica_dir"] = directory
    if ctx.invoked_subcommand is not None:
        return
    from twin.db.replica import start_replica

    def progress(percent: int) -> None:  # pg_basebackup's progress, on one line
        click.echo(
            f"\rbase backup (copying the primary): {percent:3d}%", nl=percent == 100, err=True
        )

    click.echo(start_replica(primary, directory, port, progress))


@db_replica.command("stop")
@click.pass_context
def db_replica_stop(ctx: click.Context) -> None:
    """Stop the replica (its copy stays; `twin db replica` starts it again, catching up)."""
    from twin.db.replica import stop_replica

    click.echo("stopped" if stop_replica(ctx.obj["replica_dir"]) else "no replica runs there")


@db_replica.command("status")
@click.pass_context
def db_replica_status(ctx: click.Context) -> None:
    """The replica's URL, and how old the last transaction it replayed is."""
    from twin.db.replica import replica_cluster, replication_state

    replica = replica_cluster(ctx.obj["replica_dir"])
    if not replica.running():
        raise TwinError("no replica runs there: start one with `twin db replica --from URL`")
    state = replication_state(replica.url())
    age = state["last_replay_age_s"]
    click.echo(
        f"up: {replica.url()} (standby: {state['standby']}, replayed {state['replayed_lsn']}, "
        f"last transaction replayed {'never' if age is None else f'{age:.1f} s ago'})"
    )


@db.group("pooler", cls=TwinGroup)
def db_pooler() -> None:
    """PgBouncer in transaction mode in front of the twin's database."""


@db_pooler.command("start")
@click.option("--port", type=int, help="PgBouncer's port (default: a free one).")
def db_pooler_start(port: int | None) -> None:
    """Start PgBouncer and print its URL and the settings that point the twin at it."""
    from twin.db.cluster import database_url
    from twin.db.pooler import start_pooler

    direct = database_url()
    url = start_pooler(direct, port)
    click.echo(url)
    click.echo(f"serve through it: DATABASE_URL={url} TWIN_DB_SESSION_URL={direct}", err=True)


@db_pooler.command("stop")
def db_pooler_stop() -> None:
    """Stop the twin's PgBouncer."""
    from twin.db.pooler import pooler

    click.echo("stopped" if pooler().stop() else "no pooler runs")


@cli.command()
def migrate() -> None:
    """Apply versioned migrations and create the catalog's layer tables (idempotent)."""
    from twin.db.migrate import migrate as run_migrations
    from twin.db.pool import connect

    with connect() as conn:
        applied = run_migrations(conn)
    click.echo(
        f"applied {len(applied)} step(s)"
        + (f": {', '.join(applied)}" if applied else " (up to date)")
    )


@cli.command()
@click.option("--check", is_flag=True, help="Fail when pygeoapi-config.yml is stale.")
def config(check: bool) -> None:
    """Regenerate pygeoapi-config.yml from layers/."""
    from twin.pygeoapi_config import render_text
    from twin.settings import get_settings

    path = get_settings().config_path
    text = render_text()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise TwinError(f"{path.name} is stale: run `twin config`")
        click.echo(f"{path.name} is in sync with layers/")
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


def _bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections; with proto 0
    # it does not, and keep-alive responses wait ~40 ms on Nagle and the client's delayed ACK
    sock = socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise TwinError(
            f"port {port} on {host} is taken ({exc.strerror}): stop what uses it, "
            "choose another with --port, or let the twin pick one with --port 0"
        ) from None
    return sock


def _worker_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """One listening socket per worker on the same port (SO_REUSEPORT, Linux): the kernel
    spreads new connections evenly over them. With one shared socket, whichever worker is
    awake accepts a whole burst of keep-alive connections (43 of 50 on one worker of two,
    measured with `twin bench load`), and that worker's one core becomes the limit."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return [_bind(host, port)]
    # A plain bind first: the port must be free (another twin with SO_REUSEPORT on it would
    # otherwise silently share its connections with us); port 0 picks the free port here.
    probe = _bind(host, port)
    port = probe.getsockname()[1]
    probe.close()
    return [_bind(host, port, reuse_port=True) for _ in range(workers)]


def _supervisor(config: uvicorn.Config, sockets: list[socket.socket]) -> Multiprocess:
    """uvicorn's supervisor (restarts a dead worker), giving worker i only sockets[i] when
    there is one socket per worker; a worker it starts otherwise (SIGHUP, SIGTTIN) listens
    on all of them, which still serves, only less evenly."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import Process

    class BalancedWorkers(Multiprocess):
        def init_processes(self) -> None:
            if len(sockets) != self.processes_num:
                return super().init_processes()
            for own in sockets:
                process = Process(self.config, [own])
                process.start()
                self.processes.append(process)

        def keep_subprocess_alive(self) -> None:
            if len(sockets) != len(self.processes):
                return super().keep_subprocess_alive()
            for index, process in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:  # broken app: would fail every time
                    self.should_exit.set()
                    return
                replacement = Process(self.config, [sockets[index]])
                replacement.start()
                self.processes[index] = replacement

    return BalancedWorkers(config, sockets=sockets)


# httptools with a header timeout and a header size limit (twin/http/protocol.py); named by
# its import path so the workers of `--workers N` load it themselves
HTTP_PROTOCOL = "twin.http.protocol:TwinHttpProtocol"


def run_server(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from twin.analysis.refresh import refresher_enabled, start_refresher_process
    from twin.http.app import create_app, write_openapi
    from twin.http.read_only import read_only

    sockets = _worker_sockets(host, port, workers) if workers > 1 else [_bind(host, port)]
    # TWIN_ANALYSIS_REFRESH=off leaves edits to `twin analyse`; a read-only server has none
    if refresher_enabled() and not read_only():
        start_refresher_process()
    if not read_only():  # the scooter operators' GBFS feeds (twin.scooters.poller)
        from twin.scooters.poller import start_poller

        start_poller()
    sock = sockets[0]
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    if not read_only():  # observations by MQTT, when a broker is configured (twin.sensors.mqtt)
        from twin.sensors.mqtt import start_bridge_process

        start_bridge_process(url)
    if workers > 1:  # a listening socket per worker; the supervisor restarts dead workers
        write_openapi(url)  # written once here, not once per worker
        for each in sockets:
            each.set_inheritable(True)
        config = uvicorn.Config(
            "twin.http.app:app_from_environment",
            factory=True,
            workers=workers,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            http=HTTP_PROTOCOL,
        )
        click.echo(
            f"Almaty Twin serving at {url}/  ({workers} workers; collections: "
            f"{url}/collections, viewer: {url}/viewer/, health: {url}/healthz)"
        )
        sys.stdout.flush()
        _supervisor(config, sockets).run()
        return
    app = create_app(url)
    click.echo(
        f"Almaty Twin serving at {url}/  (collections: {url}/collections, "
        f"viewer: {url}/viewer/, health: {url}/healthz)"
    )
    sys.stdout.flush()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,  # fewer keep-alive races
            http=HTTP_PROTOCOL,
        )
    )
    server.run(sockets=[sock])


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int, help="0 picks a free port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (a dead one is replaced).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Serve reads only (DATABASE_URL a replica); writes answer 405.",
)
def serve(host: str, port: int, workers: int, read_only: bool) -> None:
    """Serve the OGC API, the viewer and /healthz on one port."""
    from twin.db.cluster import database_url

    database_url()  # fail early, with the hint, when there is no database
    if read_only:  # for this process and the workers it starts
        os.environ["TWIN_READ_ONLY"] = "1"
    run_server(host, port, workers)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--scale",
    default="small",
    show_default=True,
    type=click.Choice(["small", "city"]),
    help="Demo city to load when empty.",
)
@click.pass_context
def up(ctx: click.Context, host: str, port: int, scale: str) -> None:
    """Start the database, migrate, load the demo city if empty, and serve."""
    ctx.invoke(db_start)
    ctx.invoke(migrate)
    from twin import bootstrap

    bootstrap.load_if_empty(scale)
    from twin.sensors.up import start_live_city

    start_live_city(host, port, scale)  # the MQTT broker; the demo's sensors moving
    from twin.scooters.demo import start_demo_scooters

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if start_demo_scooters(f"http://{shown}:{port}"):  # the demo operators polled, a day behind
        click.echo("scooters: the three demo operators polled (`twin scooters status`)")
    run_server(host, port)


@cli.command("settings")
def settings_command() -> None:
    """Every setting with the value in effect; `*` marks those the environment sets
    (docs/settings.md says what each one means)."""
    from twin.settings import effective

    rows = effective()
    width = max(len(name) for name, _, _ in rows)
    for name, value, from_env in rows:
        click.echo(f"{'*' if from_env else ' '} {name.ljust(width)}  {value}")


@cli.command("routes")
def routes_command() -> None:
    """Who serves each URL: the route table, first match wins, then pygeoapi
    (docs/routes.md has the same table with what each row does)."""
    from twin.http.routes import ROUTES

    width = max(len(row.path) for row in ROUTES)
    for row in ROUTES:
        click.echo(
            f"{row.path.ljust(width)}  {','.join(row.methods):<22} {row.owner:<8} {row.handler}"
        )


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name")
@click.pass_context
def bench(ctx: click.Context, name: str) -> None:
    """Run benchmark NAME from bench/NAME.py; it prints one JSON line of medians and ratios."""
    import importlib.util

    from twin.settings import get_settings

    path = get_settings().project_root / "bench" / f"{name}.py"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.py") if not p.stem.startswith("_"))
        raise TwinError(f"no benchmark {name!r}; known: {', '.join(known) or 'none yet'}")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(list(ctx.args))


# Commands that live beside the code they drive: "module:attribute" of a click command or
# group, added to `twin` on start-up. Append one line per module.
COMMAND_MODULES: list[str] = [
    "twin.editing.users:users",
    "twin.importers.commands:import_file_command",
    "twin.importers.commands:import_osm_command",
    "twin.importers.commands:import_dem_command",
    "twin.importers.commands:import_gtfs_command",
    "twin.analysis.publish:analyse_command",
    "twin.tiles.cli:tiles",
    "twin.scene3d.cli:export3d",
    "twin.scene3d.cli:render",
    "twin.scene3d.cli:tiles3d",
    "twin.demo.command:load",
    "twin.scooters.cli:scooters",
    "twin.scooters.trips:import_trips_command",
    "twin.scooters.crashes:import_crashes_command",
    "twin.sensors.cli:sensors",
    "twin.sensors.simulate:simulate_group",
]


def _register_commands() -> None:
    import importlib

    for dotted in COMMAND_MODULES:
        module, attribute = dotted.split(":")
        cli.add_command(getattr(importlib.import_module(module), attribute))


def main() -> None:
    _register_commands()
    cli()


if __name__ == "__main__":
    main()
