"""A server in a child process, started the one way tests and benchmarks need it.

`twin serve --port 0` picks a free port and announces it on its first line of stdout
("Almaty Twin serving at http://host:port/ ...", twin.cli.run_server); the caller reads that
line, keeps draining the server's output (a full pipe would block the server's event loop in
the middle of a request), and waits until a ready probe answers. Peers a benchmark compares
against (stock pygeoapi, tipg) are started on a port chosen beforehand and probed the same way.

    with ServerProcess.twin("--workers", "2", env={"TWIN_QUIET": "1"}) as server:
        server.get("/collections")
"""

from __future__ import annotations

import collections
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from twin.errors import TwinError

# the announcement twin.cli.run_server prints once the socket is bound
SERVING_AT = re.compile(r"serving at (http://\S+?)/?\s")


class ServerDidNotStart(TwinError):
    """The child exited, never announced its address, or never answered its ready probe; the
    message carries the end of its log. (A command-line error, never an HTTP answer.)"""


def twin_command(*args: str) -> list[str]:
    """The `twin` command of this interpreter's environment (the venv's script when there is
    one, so a test or benchmark runs the same code as the user)."""
    script = Path(sys.executable).parent / "twin"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "twin.cli"]
    return [*base, *args]


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, for a peer that cannot pick its own and announce it."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A running server child: `.url` is where it answers, `.log` its latest output lines,
    `.process` the child. Started and ready when the constructor returns; `stop()` (or the end
    of a `with` block) terminates it, and kills it if it does not exit."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        url: str | None = None,
        ready: str = "/healthz",
        ready_statuses: Collection[int] = (200,),
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        timeout_s: float = 120.0,
        name: str | None = None,
        log_lines: int = 2000,
    ) -> None:
        """Start `command`. Without `url`, the child must announce its address like `twin
        serve`; with it, the child is a peer listening there. Ready when GET `ready` answers
        with one of `ready_statuses` (a twin over a stopped database answers /healthz 503)."""
        self.name = name or Path(command[0]).name
        self.log: collections.deque[str] = collections.deque(maxlen=log_lines)
        self._announced = threading.Event()
        self.url = url.rstrip("/") if url else ""
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._drain(self.process.stdout, announces=url is None)
        self._drain(self.process.stderr, announces=False)
        try:
            self._wait_ready(ready, ready_statuses, timeout_s)
        except BaseException:
            self.stop()
            raise

    @classmethod
    def twin(
        cls,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        ready_statuses: Collection[int] = (200,),
        timeout_s: float = 120.0,
    ) -> ServerProcess:
        """`twin serve --port 0 ARGS` (e.g. "--workers", "2"), ready once /healthz answers."""
        return cls(
            twin_command("serve", "--port", "0", *args),
            env=env,
            cwd=cwd,
            ready_statuses=ready_statuses,
            timeout_s=timeout_s,
            name="twin serve",
        )

    def _drain(self, stream: IO[str] | None, announces: bool) -> None:
        def read() -> None:
            for line in stream or ():
                if announces and not self._announced.is_set():
                    match = SERVING_AT.search(line)
                    if match:
                        self.url = match.group(1)
                        self._announced.set()
                self.log.append(line)

        threading.Thread(target=read, daemon=True, name=f"drain {self.name}").start()

    def _failure(self, what: str) -> ServerDidNotStart:
        time.sleep(0.2)  # let the drains catch the child's last words
        tail = "".join(self.log)[-2000:]
        return ServerDidNotStart(f"{self.name} {what}" + (f":\n{tail}" if tail else ""))

    def _wait_ready(self, ready: str, statuses: Collection[int], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.url:
            if self.process.poll() is not None:
                raise self._failure(f"exited ({self.process.returncode}) before serving")
            if time.monotonic() > deadline:
                raise self._failure(f"announced no address within {timeout_s:.0f} s")
            self._announced.wait(0.1)
        probe = f"{self.url}{ready}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._failure(f"exited ({self.process.returncode}) before answering {probe}")
            try:
                if httpx.get(probe, timeout=10).status_code in statuses:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise self._failure(f"did not answer {probe} within {timeout_s:.0f} s")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", **{"timeout": 60, **kwargs})

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", **{"timeout": 60, **kwargs})

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate (a multi-worker server's supervisor stops its workers), then kill."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def stop_all(servers: Iterable[ServerProcess], timeout_s: float = 15.0) -> None:
    """Terminate every server first, then wait: they shut down side by side."""
    servers = list(servers)
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        server.stop(timeout_s)
