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
