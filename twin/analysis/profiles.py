"""Walking profiles: people who cannot walk like the average adult, as data.

A profile says how fast its walker goes on level ground, whether Tobler's slope factor slows
them on hills, and which street segments exist for them at all (a wheelchair: no steps, no
segment steeper than the barrier-free limit, no raised kerb; night: lit streets only). The
engine asks for a profile where it asks for a walking mode (WalkingNetwork.graph("wheelchair")),
so every answer the engine gives (isochrones, reports, 15-minute figures, plans) has it.

The wheelchair's slope limit: SP 59.13330.2020 (Russian "Accessibility of buildings and
structures for persons with disabilities", applied in Kazakhstan beside SP RK 3.06-101) §5.1.7
and ADA 2010 §403.3 / §405.2: a walking route's running slope at most 5% (1:20); a ramp at
most 8% (1:12, ADA 8.33%) for a rise of at most 0.76 m, i.e. a run of about 10 m. A segment's
slope is the rise between its ends over its length (as for Tobler), so a segment of 10 m or
less may reach 8%, longer ones 5%. Manual wheelchair speed on the level: 3.6 km/h (1.0 m/s,
the common design figure for wheelchair users), the same on every allowed slope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from twin.analysis.network import WalkingNetwork

FLAT_SPEED_KMH = 4.8  # an average adult on level ground (twin.analysis.network uses it too)

STEPS = ("unknown", "no", "yes")  # codes 0, 1, 2 of WalkingNetwork.edge_steps
KERBS = ("unknown", "flush", "lowered", "raised")  # codes of WalkingNetwork.edge_kerb
RAMP_MAX_M = 10.0  # a segment this short may be a ramp (ADA §405.6: rise ≤ 0.76 m at 1:12)
RAMP_MAX_SLOPE = 0.08  # SP 59.13330.2020 §5.1.7: 8% on short ramps (ADA 1:12)
ROUTE_MAX_SLOPE = 0.05  # SP 59.13330.2020 §5.1.7, ADA §403.3: 5% (1:20) along a route


def tobler_speed_kmh(slope: np.ndarray) -> np.ndarray:
    """Tobler's hiking function scaled so level ground walks at 4.8 km/h.

    Tobler: 6·exp(-3.5·|s + 0.05|) km/h, fastest on a gentle 5% descent; dividing by its value
    at s = 0 and multiplying by 4.8 keeps flat and slope-aware times equal on level ground.
    """
    slope = np.asarray(slope, dtype=float)
    return FLAT_SPEED_KMH * np.exp(-3.5 * (np.abs(slope + 0.05) - 0.05))


@dataclass(frozen=True)
class Profile:
    """One kind of walker: level speed, slope response and which segments exist for them."""

    name: str
    title: str
    level_kmh: float
    tobler: bool  # slowed (and sped) by slope as Tobler's hiking function says
    lit_only: bool = False
    barrier_free: bool = False  # no steps, no raised kerb, no segment over the slope limit


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("standard", "An average adult: 4.8 km/h on the level, Tobler on slopes", 4.8, True),
        Profile(
            "slow", "A slow or elderly walker: 3 km/h on the level, Tobler on slopes", 3.0, True
        ),
        Profile(
            "wheelchair",
            "A manual wheelchair: 3.6 km/h; no steps, raised kerbs or slopes over 5% "
            "(8% on ramps up to 10 m)",
            3.6,
            False,
            barrier_free=True,
        ),
        Profile("night", "An average adult at night: lit streets only", 4.8, True, lit_only=True),
    )
}
NAMES = tuple(PROFILES)


def engine_mode(profile: str, mode: str = "slope") -> str:
    """The WalkingNetwork mode that answers for `profile`: the standard walker's is `mode`
    (slope or flat, as before profiles); every other profile is its own mode, slope-aware."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(NAMES)}")
    if profile == "standard":
        return mode
    if mode != "slope":
        raise ValueError(
            f"mode {mode!r} is for the standard profile; the {profile} profile has its own "
            "speeds (leave mode out)"
        )
    return profile


def steps_codes(values: Iterable[Any]) -> np.ndarray:
    """STEPS codes of the streets' `steps` (true/false/null)."""
    return np.array([0 if v is None else 2 if v else 1 for v in values], dtype=np.int8)


def kerb_codes(values: Iterable[Any]) -> np.ndarray:
    """KERBS codes of the streets' `kerb` (null or anything else: unknown)."""
    lookup = {name: i for i, name in enumerate(KERBS)}
    return np.array([lookup.get(v, 0) for v in values], dtype=np.int8)


def segment_access(network: WalkingNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Steps and kerb codes per segment (unknown where the network does not carry them)."""
    m = len(network.edge_u)
    steps = network.edge_steps if network.edge_steps is not None else np.zeros(m, np.int8)
    kerb = network.edge_kerb if network.edge_kerb is not None else np.zeros(m, np.int8)
    return steps, kerb


def arc_slopes(network: WalkingNetwork) -> np.ndarray:
    """Rise over run of each arc (both directions of every segment; 0 without terrain)."""
    u = np.concatenate([network.edge_u, network.edge_v])
    v = np.concatenate([network.edge_v, network.edge_u])
    length = np.concatenate([network.edge_length, network.edge_length])
    if not network.slope_aware:
        return np.zeros(len(u))
    rise = network.z[v] - network.z[u]
    return np.nan_to_num(np.where(length > 0, rise / np.maximum(length, 1e-6), 0.0), nan=0.0)


def slope_limit(length: np.ndarray) -> np.ndarray:
    """The wheelchair's steepest allowed slope for segments of `length` metres."""
    return np.where(np.asarray(length) <= RAMP_MAX_M, RAMP_MAX_SLOPE, ROUTE_MAX_SLOPE)


def barriers(network: WalkingNetwork, edges: np.ndarray | None = None) -> list[list[str]]:
    """Per segment (all, or `edges`): why it is not barrier-free for a wheelchair, and what
    is not known (unknown steps or kerb: assumed passable, but said)."""
    steps, kerb = segment_access(network)
    edges = np.arange(len(network.edge_u)) if edges is None else np.asarray(edges, np.int64)
    slope = np.abs(arc_slopes(network)[: len(network.edge_u)])[edges]
    limit = slope_limit(network.edge_length[edges])
    reasons = []
    for s, k, grade, most in zip(steps[edges], kerb[edges], slope, limit):
        why = []
        if s == 2:
            why.append("steps")
        elif s == 0:
            why.append("steps unknown")
        if grade > most:
            why.append(f"slope {100 * grade:.1f}% over {100 * most:.0f}%")
        if k == 3:
            why.append("raised kerb")
        elif k == 0:
            why.append("kerb unknown")
        reasons.append(why)
    return reasons


def profile_arcs(
    network: WalkingNetwork, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arcs of every segment both ways with the profile's minutes; an arc that does not
    exist for the profile costs inf (WalkingNetwork.graph leaves it out), so arc i stays
    segment i % m as in every mode."""
    profile = PROFILES[name]
    u, v, length, lit = network.arc_costs("length")
    slope = arc_slopes(network)
    speed = np.full(len(u), profile.level_kmh)
    if profile.tobler and network.slope_aware:
        speed = tobler_speed_kmh(slope) * (profile.level_kmh / tobler_speed_kmh(0.0))
    minutes = length / (speed * 1000 / 60)
    exists = np.ones(len(u), dtype=bool)
    if profile.lit_only:
        exists &= lit
    if profile.barrier_free:
        steps, kerb = segment_access(network)
        exists &= np.abs(slope) <= slope_limit(length)
        exists &= np.tile(steps, 2) != 2
        exists &= np.tile(kerb, 2) != 3
    return u, v, np.where(exists, minutes, np.inf), lit


def describe() -> list[dict[str, Any]]:
    """The profiles as a process input's documentation and /indicators?profile= lists them."""
    return [{"name": p.name, "title": p.title, "level_kmh": p.level_kmh} for p in PROFILES.values()]
