"""One settings object: every variable the twin reads is declared once in twin/settings.py,
documented in the generated docs/settings.md, read through the object, and a bad value keeps
its documented default with one warning. Pure: no database, no server."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from twin import settings as settings_module
from twin.settings import GROUPS, PAGE, Settings, get_settings, settings_page, variables

ROOT = Path(__file__).resolve().parent.parent
# A whole variable name: `TWIN_CQL2_MAX_` in a sentence about the family is not one.
NAME = re.compile(r"\b(TWIN_[A-Z0-9_]*[A-Z0-9])\b(?!_)")


def _sources(*folders: str, pattern: str = "*.py") -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for folder in folders
        for path in sorted((ROOT / folder).rglob(pattern))
    }


def _declared() -> set[str]:
    return {variable.name for _, _, _, variable in variables()}


def test_every_variable_named_in_the_source_is_declared():
    """A newcomer who meets a TWIN_ variable in the code or the docs finds it in the settings
    table (a misspelt name in a page is caught here too)."""
    texts = {
        **_sources("twin", "bench", "tests", "scripts"),
        **_sources("docs", "scripts", pattern="*.md"),
        **_sources("scripts", pattern="*.sh"),
        **{
            ROOT / name: (ROOT / name).read_text(encoding="utf-8")
            for name in ("README.md", "Makefile")
        },
    }
    named: dict[str, Path] = {}
    for path, text in texts.items():
        for name in NAME.findall(text):
            named.setdefault(name, path.relative_to(ROOT))
    assert len(named) >= 25
    undeclared = {name: str(path) for name, path in named.items() if name not in _declared()}
    assert not undeclared, f"declare these in twin/settings.py: {undeclared}"


def test_only_the_settings_module_reads_twin_variables_from_the_environment():
    """Reads go through get_settings(); the twin may still SET variables for its workers."""
    read = re.compile(
        r"""(?:os\.environ\.get|os\.getenv|environ\.get)\(\s*["']"""
        r"""(?:TWIN_|DATABASE_URL)"""
        r"""|os\.environ\[["'](?:TWIN_[A-Z0-9_]+|DATABASE_URL)["']\](?!\s*=[^=])"""
    )
    readers = [
        str(path.relative_to(ROOT))
        for path, text in _sources("twin").items()
        if path.name != "settings.py" and read.search(text)
    ]
    assert not readers, f"read these through twin.settings.get_settings(): {readers}"


def test_the_settings_page_is_the_generated_table_of_every_variable():
    committed = PAGE.read_text(encoding="utf-8")
    assert committed == settings_page(), (
        "docs/settings.md is out of date: run `python -m twin.settings --write`"
    )
    for name in _declared():
        assert f"| `{name}` |" in committed, name
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "settings.md" in nav, "docs/settings.md is not in the mkdocs nav"
    for page in ("limits.md", "scaling.md"):
        assert "settings.md" in (ROOT / "docs" / page).read_text(encoding="utf-8"), page


def test_every_variable_declares_a_meaning_and_each_group_is_on_the_object():
    names = [variable.name for _, _, _, variable in variables()]
    assert len(names) == len(set(names)), "a variable is declared twice"
    for _, kind, _, variable in variables():
        assert variable.meaning and variable.name.isupper(), variable
        assert kind in settings_module.TYPE_NAMES, (variable.name, kind)
    handle = Settings({})
    for attribute, _, cls in GROUPS:
        assert isinstance(getattr(handle, attribute), cls), attribute
    internal = {v.name for _, _, _, v in variables() if v.internal}
    assert {
        "TWIN_SERVER_URL",
        "TWIN_OPENAPI_READY",
        "TWIN_TEMPLATES",
        "TWIN_CSP_MARKER",
    } <= internal


def test_the_defaults_are_the_documented_ones_and_paths_follow_the_project_root(tmp_path):
    plain = Settings({})
    assert plain.http.max_body_bytes == 10 * 1024 * 1024 and plain.http.max_inflight == 64
    assert plain.cql2.max_length == 16384 and plain.cql2.max_depth == 32
    assert plain.tiles.feature_cap == 20000 and plain.tiles.cache is None
    assert plain.analysis.refresh is True and plain.logging.quiet is False
    assert plain.database_url is None
    assert plain.home == settings_module.PROJECT_ROOT / ".twin"
    moved = Settings({"TWIN_PROJECT_ROOT": str(tmp_path), "TWIN_TILES_DIR": "/srv/tiles"})
    assert moved.home == tmp_path / ".twin" and moved.layers_dir == tmp_path / "layers"
    assert moved.web_dir == tmp_path / "web" and moved.run_dir == tmp_path / ".twin" / "run"
    assert moved.tiles_dir == Path("/srv/tiles")
    assert Settings({"DATABASE_URL": ""}).database_url is None


def test_values_are_parsed_by_their_declared_type():
    given = Settings(
        {
            "TWIN_MAX_INFLIGHT": " 8 ",
            "TWIN_TILE_MEMORY_MB": "0.5",
            "TWIN_REQUIRE_IF_MATCH": "Yes",
            "TWIN_ANALYSIS_REFRESH": "off",
            "TWIN_TILE_CACHE": "/tmp/tiles",
            "TWIN_SCENE_MAX_AREA_KM2": "12.5",
        }
    )
    assert given.http.max_inflight == 8 and given.tiles.memory_mb == 0.5
    assert given.http.require_if_match is True and given.analysis.refresh is False
    assert given.tiles.cache == Path("/tmp/tiles") and given.scenes.max_area_km2 == 12.5


def test_a_bad_value_keeps_the_default_with_one_warning(caplog):
    environ = {"TWIN_MAX_INFLIGHT": "lots", "TWIN_QUIET": "please"}
    with caplog.at_level(logging.WARNING, logger="twin.settings"):
        for _ in range(3):
            handle = Settings(environ)
            assert handle.http.max_inflight == 64 and handle.logging.quiet is False
    warnings = [r.getMessage() for r in caplog.records if r.name == "twin.settings"]
    assert len([w for w in warnings if "TWIN_MAX_INFLIGHT" in w]) == 1, warnings
    assert len([w for w in warnings if "TWIN_QUIET" in w]) == 1, warnings
    assert "default 64" in next(w for w in warnings if "TWIN_MAX_INFLIGHT" in w)


def test_the_environment_is_read_per_call(monkeypatch):
    """Tests point the twin elsewhere between calls; no value is cached across handles."""
    monkeypatch.setenv("TWIN_TILE_FEATURE_CAP", "25")
    assert get_settings().tiles.feature_cap == 25
    monkeypatch.setenv("TWIN_TILE_FEATURE_CAP", "30")
    assert get_settings().tiles.feature_cap == 30
    monkeypatch.delenv("TWIN_TILE_FEATURE_CAP")
    assert get_settings().tiles.feature_cap == 20000


def test_the_page_can_be_printed_and_written(tmp_path, monkeypatch, capsys):
    settings_module.main([])
    assert capsys.readouterr().out == settings_page()
    monkeypatch.setattr(settings_module, "PAGE", tmp_path / "settings.md")
    settings_module.main(["--write"])
    assert (tmp_path / "settings.md").read_text(encoding="utf-8") == settings_page()


@pytest.mark.parametrize("attribute", [attribute for attribute, _, _ in GROUPS])
def test_reading_a_group_is_cheap(attribute):
    """A handle and one group cost a few environment look-ups: well under 100 µs."""
    import time

    started = time.perf_counter()
    for _ in range(200):
        getattr(get_settings(), attribute)
    assert (time.perf_counter() - started) / 200 < 100e-6


def test_an_operator_sees_the_settings_in_effect_without_the_database_password():
    """`twin settings` lists every user-facing variable with its value; those the environment
    sets are starred, and a password in the database URL is never printed."""
    from conftest import run_twin

    shown = run_twin(
        "settings",
        DATABASE_URL="postgresql://twin:hunter2@db.example:5432/twin",
        TWIN_TILE_MEMORY_MB="64",
    ).stdout
    lines = {line[2:].split()[0]: line for line in shown.splitlines()}
    user_facing = {v.name for _, _, _, v in variables() if not v.internal}
    assert set(lines) == user_facing
    assert lines["TWIN_TILE_MEMORY_MB"].startswith("*") and lines["TWIN_TILE_MEMORY_MB"].endswith(
        " 64.0"
    )
    assert "hunter2" not in shown and "postgresql://twin:***@db.example:5432/twin" in shown
    assert lines["TWIN_TILE_VERSION_TTL"].startswith(" ")  # the default, not set here
