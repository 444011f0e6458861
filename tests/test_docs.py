"""A newcomer's first read: a short README whose links lead somewhere, a docs site that builds
offline, and every input bound the server enforces written down where the README points."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_is_short_and_every_page_it_names_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200, "README.md grew past 200 lines: move detail to docs/"
    assert "make demo" in readme and "make test" in readme
    links = re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme)
    assert len(links) >= 10
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_docs_site_builds_offline_with_no_broken_link(tmp_path):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mkdocs"),
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "limits" / "index.html").exists()


def test_every_input_bound_of_the_server_is_documented():
    """The bounds (groups http, cql2 and scenes of twin.settings) are explained in
    docs/limits.md; the request bounds are also in the README's table, which points to
    docs/settings.md for every other variable (tests/test_settings.py checks that page)."""
    from twin.settings import variables

    bounds = {
        group: {v.name for g, _, _, v in variables() if g == group}
        for group in ("http", "cql2", "scenes")
    }
    assert len(bounds["http"] | bounds["cql2"]) >= 8 and len(bounds["scenes"]) >= 2
    limits = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    everything = set().union(*bounds.values())
    assert not [n for n in everything if n not in limits], "undocumented in docs/limits.md"
    request = bounds["http"] | bounds["cql2"]
    assert not [n for n in request if n not in readme], "missing from the README's limits table"
    assert "docs/settings.md" in readme and "settings.md" in limits
