"""Importers: real data into the twin's layers (vector files through OGR, OpenStreetMap
extracts, elevation models), each validated against the catalog and loaded in one transaction
through `twin.store.write_layer`."""

from __future__ import annotations

import hashlib
from pathlib import Path


def source_digest(path: Path) -> str:
    """SHA-256 of a source file, kept in the layer's provenance to tell which file was loaded."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def error_line(exc: BaseException) -> str:
    """A library's error message as one short line for the user."""
    return " ".join(str(exc).split())[:300] or type(exc).__name__
