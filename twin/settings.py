"""One place for where the twin lives and which database it talks to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    project_root: Path
    home: Path
    database_url: str | None
    layers_dir: Path
    tiles_dir: Path
    web_dir: Path
    config_path: Path

    @property
    def run_dir(self) -> Path:
        """Files generated at run time (effective pygeoapi config, OpenAPI document)."""
        return self.home / "run"


def get_settings() -> Settings:
    """Read settings from the environment each call, so tests can point the twin elsewhere."""
    root = Path(os.environ.get("TWIN_PROJECT_ROOT", PROJECT_ROOT))
    home = Path(os.environ.get("TWIN_HOME", root / ".twin"))
    return Settings(
        project_root=root,
        home=home,
        database_url=os.environ.get("DATABASE_URL") or None,
        layers_dir=Path(os.environ.get("TWIN_LAYERS_DIR", root / "layers")),
        tiles_dir=Path(os.environ.get("TWIN_TILES_DIR", root / "tiles")),
        web_dir=root / "web",
        config_path=root / "pygeoapi-config.yml",
    )


def _int_env(name: str, default: int) -> int:
    """An integer setting; a value that is not a number keeps the documented default."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    """Bounds on untrusted input, checked before any parser or database sees it.

    Each is an environment variable with a documented default (docs/scaling.md, "Limits")."""

    cql2_max_length: int      # TWIN_CQL2_MAX_LENGTH: characters of a CQL2 filter (text or JSON)
    cql2_max_depth: int       # TWIN_CQL2_MAX_DEPTH: nesting of brackets/operators in a filter
    cql2_max_nodes: int       # TWIN_CQL2_MAX_NODES: terms, operators and values in a filter
    header_timeout_s: int     # TWIN_HEADER_TIMEOUT_S: seconds a client has to send its headers
    max_header_bytes: int     # TWIN_MAX_HEADER_BYTES: request line and headers together
    require_if_match: bool    # TWIN_REQUIRE_IF_MATCH: PUT/PATCH/DELETE of an item need If-Match


def get_limits() -> Limits:
    """Read the input bounds from the environment each call (tests set them per server)."""
    return Limits(
        cql2_max_length=_int_env("TWIN_CQL2_MAX_LENGTH", 16384),
        cql2_max_depth=_int_env("TWIN_CQL2_MAX_DEPTH", 32),
        cql2_max_nodes=_int_env("TWIN_CQL2_MAX_NODES", 1024),
        header_timeout_s=_int_env("TWIN_HEADER_TIMEOUT_S", 10),
        max_header_bytes=_int_env("TWIN_MAX_HEADER_BYTES", 16384),
        require_if_match=os.environ.get("TWIN_REQUIRE_IF_MATCH", "").lower() in
        ("1", "true", "yes", "on"),
    )
