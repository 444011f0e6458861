"""The programme's figures the demo city is calibrated to (almaty.yml), and the shared helpers
that keep totals exact when they are split into whole units."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

FIGURES_PATH = Path(__file__).with_name("almaty.yml")


@lru_cache(maxsize=1)
def figures() -> dict[str, Any]:
    """almaty.yml, parsed once."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(FIGURES_PATH.read_text(encoding="utf-8"), Loader=loader)


def district_names() -> list[str]:
    return [d["name_en"] for d in figures()["districts"]]


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total into whole parts proportional to weights (largest remainder),
    so the parts always sum to exactly `total`."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.size == 0:
        return np.zeros(weights.size, dtype=np.int64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    exact = total * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    short = int(total - parts.sum())
    if short:
        order = np.argsort(-(exact - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


def split_area(
    total: float, count: int, rng: np.random.Generator, spread: float = 1.0
) -> np.ndarray:
    """Split an area into `count` unequal parts that sum to exactly `total`."""
    if count <= 0:
        return np.zeros(0)
    shares = rng.lognormal(0.0, spread, count)
    return total * shares / shares.sum()
