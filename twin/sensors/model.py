"""The demo city's sensors as a value model: what a lamp, an air sensor and a meter report when.

The demo's history (twin/sensors/demo.py) and the simulator (`twin simulate sensors`) both
draw their values from here, so the derived layers read the same city whichever wrote it.

- Sun: sunrise and sunset in Almaty (43.24 N, 76.89 E, UTC+5 since 1 March 2024) by NOAA's
  solar equations (accurate to about a minute); the sun is down at an altitude of -0.833°
  (refraction and the sun's radius).
- Lamps: on a few minutes after sunset, off around sunrise (each lamp's photocell has its own
  fixed offsets). A share of lamps (LAMP_FAILURE_SHARE, 2%) is broken: it reports
  off at night. Results are booleans (true: lit).
- PM2.5 (µg/m³): 36 µg/m³ a year on average across the 45 sensors (S2 l.331), higher in
  winter (heating season smog: January about 1.75x the mean, July about 0.25x), at night and
  in the evening (inversions, a wider swing in winter), in the north and the centre (lower,
  coal-heated private housing; traffic); multi-day weather episodes multiply it. Every factor
  has mean 1, so the annual mean is the 36 µg/m³ baseline by construction.
- Meters: water and heating flows in m³/h, power in kW, with a daily cycle (water: morning and
  evening peaks, night minimum about 40% of the mean; heating and power about 60-65%); one water
  facility leaks: a constant extra flow of 2.5 times its mean, so its night flow does not drop.

Values are functions of (stream, time, seed): the same instant always gives the same value,
whoever asks and in which order.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import numpy as np
import psycopg

from twin.sqlfiles import query

ALMATY_LAT = 43.24
ALMATY_LON = 76.89
ALMATY_TZ = timezone(timedelta(hours=5), "UTC+5")  # one zone for Kazakhstan since 2024-03-01
SUN_DOWN_ALTITUDE = -0.833  # degrees: upper limb on the horizon, with refraction

PM25_ANNUAL_MEAN = 36.0  # µg/m³, S2 l.331 (the baseline the derived layer compares with)
PM25_DAILY_NORM = 35.0  # µg/m³, S2 l.4243
PM25_SEASON = 0.75  # amplitude of the yearly cycle (peak mid-January)
PM25_CITY_EPISODES = ((2.3, 0.35), (4.1, 0.30), (7.7, 0.25))  # (period days, amplitude)
PM25_LOCAL = ((5.3 / 24, 0.15), (11.0 / 24, 0.10))
LAMP_FAILURE_SHARE = 0.02  # our choice: 2% of the smart lamps report off at night
LEAK_FACTOR = 2.5  # the leaking facility's extra flow, in units of its mean flow
METER_NOISE = ((3.1 / 24, 0.03), (0.37, 0.02))

KINDS = ("lamp", "air", "water", "heating", "power")


@dataclass(frozen=True)
class DemoStream:
    """One simulated Datastream: its id, what it measures, where, and its fixed parameters
    (the Datastream's properties.simulation, set when the demo installed it)."""

    id: int
    thing_id: int
    kind: str  # lamp | air | water | heating | power
    lon: float
    lat: float
    district: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What the noise is seeded by: stable while the demo is not reloaded."""
        return str(self.params.get("key", self.id))


def demo_streams(conn: psycopg.Connection) -> list[DemoStream]:
    """The demo's simulated Datastreams (those with properties.simulation), ordered by id."""
    rows = conn.execute(query("sensors_city/demo_streams")).fetchall()
    return [
        DemoStream(int(i), int(t), str(k), float(x), float(y), d, dict(p or {}))
        for i, t, k, x, y, d, p in rows
    ]


# --- the sun ---------------------------------------------------------------------------------


def _sun(jd: float) -> tuple[float, float]:
    """The sun's declination (degrees) and the equation of time (minutes) at Julian day jd
    (NOAA solar calculator)."""
    t = (jd - 2451545.0) / 36525.0
    l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360
    m = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    mr = math.radians(m)
    c = (
        math.sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t))
        + math.sin(2 * mr) * (0.019993 - 0.000101 * t)
        + math.sin(3 * mr) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * t)
    lam = math.radians(l0 + c - 0.00569 - 0.00478 * math.sin(omega))
    eps0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    eps = math.radians(eps0 + 0.00256 * math.cos(omega))
    decl = math.degrees(math.asin(math.sin(eps) * math.sin(lam)))
    y = math.tan(eps / 2) ** 2
    l0r = math.radians(l0)
    eot = 4 * math.degrees(
        y * math.sin(2 * l0r)
        - 2 * e * math.sin(mr)
        + 4 * e * y * math.sin(mr) * math.cos(2 * l0r)
        - 0.5 * y * y * math.sin(4 * l0r)
        - 1.25 * e * e * math.sin(2 * mr)
    )
    return decl, eot


def _julian_day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + 2440587.5


@lru_cache(maxsize=4096)
def sun_times(
    day: date, lat: float = ALMATY_LAT, lon: float = ALMATY_LON
) -> tuple[datetime, datetime]:
    """Sunrise and sunset (UTC datetimes) on the local calendar day `day` in Almaty (or at
    lat/lon); each found from the sun's position at that event (two refinements)."""
    noon_guess = datetime(day.year, day.month, day.day, 12, tzinfo=ALMATY_TZ)
    events = []
    for sign in (-1, 1):
        moment = noon_guess
        for _ in range(3):
            decl, eot = _sun(_julian_day(moment))
            phi, d = math.radians(lat), math.radians(decl)
            cos_h = math.cos(math.radians(90 - SUN_DOWN_ALTITUDE)) / (math.cos(phi) * math.cos(d))
            cos_h -= math.tan(phi) * math.tan(d)
            hour_angle = math.degrees(math.acos(max(-1.0, min(1.0, cos_h))))
            # minutes after UTC midnight of the civil date
            minutes = 720 - 4 * lon - eot + sign * 4 * hour_angle
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment = midnight + timedelta(minutes=minutes)
        events.append(moment.astimezone(UTC))
    return events[0], events[1]


def nights(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The nights (sunset, next sunrise) that overlap [start, end], in time order."""
    first = start.astimezone(ALMATY_TZ).date() - timedelta(days=1)
    last = end.astimezone(ALMATY_TZ).date() + timedelta(days=1)
    out = []
    day = first
    while day <= last:
        sunset = sun_times(day)[1]
        sunrise = sun_times(day + timedelta(days=1))[0]
        if sunrise > start and sunset < end:
            out.append((sunset, sunrise))
        day += timedelta(days=1)
    return out


def is_night(moment: datetime) -> bool:
    """Whether the sun is down in Almaty at `moment`."""
    return any(a <= moment < b for a, b in nights(moment, moment))


# --- values ----------------------------------------------------------------------------------


def unit_hash(*parts: object) -> float:
    """A number in [0, 1) fixed by its parts (crc32: stable across processes and versions)."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


def _phase(seed: int, *parts: object) -> float:
    return 2 * math.pi * unit_hash(seed, *parts)


def _episodes(
    t_days: np.ndarray, terms: Sequence[tuple[float, float]], seed: int, keys: Sequence[object]
) -> np.ndarray:
    """exp(Σ c·sin(2πt/P + φ)) divided by its mean Π I0(c): a smooth multiplier of mean 1,
    one row per key (each key its own phases), one column per time."""
    total = np.zeros((len(keys), len(t_days)))
    norm = 1.0
    for k, (period, amp) in enumerate(terms):
        phases = np.array([_phase(seed, key, k) for key in keys])[:, None]
        total += amp * np.sin(2 * np.pi * t_days[None, :] / period + phases)
        norm *= float(np.i0(amp))
    return np.exp(total) / norm


def _local_hours(times: np.ndarray) -> np.ndarray:
    """Hours of the local (UTC+5) day, fractional, for epoch seconds."""
    return ((times / 3600.0) + 5.0) % 24.0


def _year_phase(times: np.ndarray) -> np.ndarray:
    """0 on 15 January, in radians over the year."""
    days = times / 86400.0
    return 2 * np.pi * ((days - 14.0) % 365.2422) / 365.2422


def _param(streams: Sequence[DemoStream], name: str, default: float) -> np.ndarray:
    return np.array([float(s.params.get(name, default)) for s in streams])[:, None]


def pm25(streams: Sequence[DemoStream], times: np.ndarray, seed: int) -> np.ndarray:
    """PM2.5 in µg/m³ of each air stream (rows) at epoch seconds `times` (columns)."""
    winter = np.cos(_year_phase(times))  # 1 mid-January, -1 mid-July
    season = 1 + PM25_SEASON * winter
    swing = 0.35 + 0.2 * winter  # a wider daily swing in winter (inversions)
    hours = _local_hours(times)
    diurnal = 1 + swing * np.cos(2 * np.pi * (hours - 22.0) / 24)
    days = times / 86400.0
    weather = _episodes(days, PM25_CITY_EPISODES, seed, ["city"])
    local = _episodes(days, PM25_LOCAL, seed, [s.key for s in streams])
    level = _param(streams, "level", 1.0)
    return np.round(PM25_ANNUAL_MEAN * level * (season * diurnal) * weather * local, 1)


# daily profiles of the meters: (night level, morning peak, evening peak), means scaled to 1
_PROFILES = {
    "water": (0.2, (7.5, 2.5, 0.9), (20.5, 3.0, 1.0)),
    "heating": (0.3, (7.5, 3.0, 0.5), (19.5, 4.0, 0.6)),
    "power": (0.4, (10.0, 4.0, 0.4), (19.5, 3.0, 0.6)),
}


def _profile(kind: str, hours: np.ndarray) -> np.ndarray:
    base, (h1, w1, a1), (h2, w2, a2) = _PROFILES[kind]

    def shape(h: np.ndarray) -> np.ndarray:
        d1 = (h - h1 + 12) % 24 - 12
        d2 = (h - h2 + 12) % 24 - 12
        return base + a1 * np.exp(-((d1 / w1) ** 2)) + a2 * np.exp(-((d2 / w2) ** 2))

    grid = np.arange(0, 24, 0.25)
    return shape(hours) / float(shape(grid).mean())


def flow(streams: Sequence[DemoStream], times: np.ndarray, seed: int) -> np.ndarray:
    """Each meter's flow (m³/h; power in kW; rows) at epoch seconds `times` (columns); the
    streams are of one kind."""
    kind = streams[0].kind
    shape = _profile(kind, _local_hours(times))
    if kind == "heating":  # the heating season: full in January, hot water in July
        shape = shape * (0.65 + 0.35 * np.cos(_year_phase(times)))
    noise = _episodes(times / 86400.0, METER_NOISE, seed, [s.key for s in streams])
    base = _param(streams, "base", 100.0)
    leak = np.array([bool(s.params.get("leak")) for s in streams])[:, None]
    return np.round(base * shape[None, :] * noise + np.where(leak, LEAK_FACTOR * base, 0.0), 2)


def lamp_on(streams: Sequence[DemoStream], times: np.ndarray) -> np.ndarray:
    """Whether each lamp (rows) is lit at epoch seconds `times` (columns); a broken lamp
    never is."""
    lit = np.zeros((len(streams), len(times)), dtype=bool)
    if not len(times):
        return lit
    on_s = _param(streams, "on_min", 5.0) * 60
    off_s = _param(streams, "off_min", 5.0) * 60
    lo = datetime.fromtimestamp(float(times.min()), UTC) - timedelta(hours=1)
    hi = datetime.fromtimestamp(float(times.max()), UTC) + timedelta(hours=1)
    t = times[None, :]
    for sunset, sunrise in nights(lo, hi):
        lit |= (t >= sunset.timestamp() + on_s) & (t < sunrise.timestamp() + off_s)
    broken = np.array([bool(s.params.get("fails")) for s in streams])[:, None]
    return lit & ~broken


def lamp_switches(
    stream: DemoStream, start: datetime, end: datetime
) -> list[tuple[datetime, bool]]:
    """The lamp's reports in [start, end): its state at start, then each switch at sunset
    (on; a broken lamp reports off) and sunrise (off)."""
    on_s = timedelta(minutes=float(stream.params.get("on_min", 5.0)))
    off_s = timedelta(minutes=float(stream.params.get("off_min", 5.0)))
    broken = bool(stream.params.get("fails"))
    first = bool(lamp_on([stream], np.array([start.timestamp()]))[0, 0])
    out: list[tuple[datetime, bool]] = [(start, first)]
    for sunset, sunrise in nights(start, end):
        for switch, state in ((sunset + on_s, not broken), (sunrise + off_s, False)):
            moment = switch.replace(microsecond=0)
            if start < moment < end:
                out.append((moment, state))
    return out


def _values(streams: Sequence[DemoStream], times: np.ndarray, seed: int) -> np.ndarray:
    """The streams' values (rows, all of one kind) at `times` (columns)."""
    kind = streams[0].kind
    if kind == "air":
        return pm25(streams, times, seed)
    if kind == "lamp":
        return lamp_on(streams, times)
    return flow(streams, times, seed)


def readings(
    streams: Sequence[DemoStream],
    start: datetime,
    end: datetime,
    *,
    step_s: float,
    seed: int = 1,
) -> Iterator[tuple[int, datetime, float | bool]]:
    """Every stream's value at each step in [start, end) (times on multiples of step_s since
    the epoch, so two callers with the same step agree), time by time: (datastream id, time,
    result). A lamp's result is a boolean; the others are numbers."""
    if step_s <= 0:
        raise ValueError("step_s must be positive")
    first = math.ceil(start.timestamp() / step_s) * step_s
    times = np.arange(first, end.timestamp(), step_s, dtype=float)
    if not len(times) or not streams:
        return
    values: list[Any] = [None] * len(streams)
    kinds: dict[str, list[int]] = {}
    for i, stream in enumerate(streams):
        kinds.setdefault(stream.kind, []).append(i)
    for rows in kinds.values():
        block = _values([streams[i] for i in rows], times, seed)
        for row, i in enumerate(rows):
            values[i] = block[row].tolist()  # bool or float per kind
    moments = [datetime.fromtimestamp(float(t), UTC) for t in times]
    for j, moment in enumerate(moments):
        for stream, column in zip(streams, values, strict=True):
            yield stream.id, moment, column[j]
