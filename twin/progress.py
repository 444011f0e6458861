"""Progress for long work (imports, loads, analysis, tile seeding): a bar on a terminal,
a line every few seconds otherwise (CI logs), nothing when TWIN_QUIET is set."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from twin.settings import get_settings


@contextmanager
def progress(description: str, total: int | None = None, unit: str = "it") -> Iterator[tqdm]:
    disable = get_settings().logging.quiet
    bar = tqdm(
        total=total,
        desc=description,
        unit=unit,
        disable=disable,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 5.0,
        dynamic_ncols=True,
        unit_scale=True,
    )
    try:
        yield bar
    finally:
        bar.close()
