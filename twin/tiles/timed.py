"""`datetime=` on a layer's tiles, with the meaning it has on the layer's items:

- a versioned layer (twin.editing.VERSIONED_LAYERS): the layer as of the instant (a date: as
  it was during that UTC day; an interval: every feature that existed in it, in its latest
  version there), rebuilt from the change history as the items do (features/as_of; a tile
  reads the changed features through the history's geometry index, features/as_of_changed);
  when the layer also has `temporal:` (parks' opened_on, plots' registered_on), only the
  features whose own time had begun by the window's end (or that have none), as on the items;
- a layer whose catalog names `tile_at: <area>/<name>`: that SQL file draws the layer at an
  instant (the contract: one SELECT returning one bytea, the layer's MVT named
  %(layer_name)s, from the tile's %(z)s, %(x)s, %(y)s and %(at)s timestamptz; an interval is
  refused, a date is its first instant);
- a layer with `temporal:`: its features whose time is the instant or within the interval;
- any other layer: 400, as on its items.

The parsing is twin.features.params' (one parser, one message). A dated tile is its own
tileset (`<layer>@<digest of the instant>`), so it never shares a cache entry, a file or a
hot-tile slot with the undated tile; an instant is keyed in UTC (to the microsecond: the same
instant however spelt), an interval as given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from twin.catalog import Layer
from twin.editing import VERSIONED_LAYERS
from twin.features.params import AsOf, TimeWindow, as_of_param, datetime_param
from twin.features.times import instant
from twin.sqlfiles import query
from twin.tiles.matrix import TileRequestError

RECENT = dt.timedelta(minutes=10)  # a tile_at tile this close to now may still change


@dataclass(frozen=True)
class TileTime:
    """A tile's `datetime`: what it selects and the key it is cached under."""

    text: str
    key: str
    as_of: AsOf | None = None
    window: TimeWindow | None = None
    at: dt.datetime | None = None

    @property
    def suffix(self) -> str:
        """The tileset suffix: `@` and a digest of the key (safe as a directory name)."""
        return "@" + hashlib.sha256(self.key.encode()).hexdigest()[:16]

    def cacheable(self) -> bool:
        """A tile drawn by a tile_at SQL file reads tables outside the layer's data version
        (e.g. observations): recent instants are drawn afresh every time."""
        return self.at is None or self.at < dt.datetime.now(dt.UTC) - RECENT


def _normal(moment: dt.date | dt.datetime) -> str:
    """An instant's key: in UTC, to the microsecond the tile is drawn at (rounding to the
    second would serve a tile of an earlier instant in the same second: wrong after an edit
    within it); a date as itself."""
    if isinstance(moment, dt.datetime):
        try:
            return moment.astimezone(dt.UTC).isoformat()
        except OverflowError:  # the first or last hours of year 1 or 9999 in another zone
            return moment.isoformat()
    return moment.isoformat()


def tile_time(layer: Layer, value: str) -> TileTime:
    """The `datetime` of a tile request of `layer` (400 naming the problem when it is bad)."""
    value = value.strip()
    key = value if "/" in value else _normal(instant(value, "datetime"))
    if layer.name in VERSIONED_LAYERS:
        return TileTime(value, key, as_of=as_of_param(value, layer))
    if layer.tile_at:
        if "/" in value:
            raise TileRequestError(
                f"collection {layer.name} is drawn at an instant: give datetime as one "
                f"RFC 3339 date-time, not an interval ({value[:60]!r})",
                status=400,
                code="InvalidParameterValue",
            )
        moment = instant(value, "datetime")
        if not isinstance(moment, dt.datetime):
            moment = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
        return TileTime(value, key, at=moment)
    return TileTime(value, key, window=datetime_param(value, layer))


def as_it_is(conn: psycopg.Connection, layer: Layer, as_of: AsOf) -> bool:
    """Whether a versioned layer as of `as_of` is the layer as it is now: nothing changed after
    the window's start and every feature's own time (`temporal:`) had begun by its end. Then
    the dated tile is the undated one, exactly (the same bytes, its cache too)."""
    from twin.features.pages import own_time_clause

    values: dict[str, Any] = {"layer": layer.name, "since": as_of.start_text()}
    not_begun: sql.Composable = sql.SQL("false")
    if layer.temporal and as_of.end is not None:
        own_time = own_time_clause(layer, as_of, values, alias="l")
        not_begun = sql.SQL("EXISTS (SELECT 1 FROM {} AS l WHERE NOT {})").format(
            sql.Identifier(layer.table), own_time
        )
    row = conn.execute(query("tiles/changed_since", not_begun=not_begun), values).fetchone()
    return not (row and row[0])


def time_meaning(layer: Layer) -> str | None:
    """What `datetime=` means on the layer's tiles (tile metadata says it), None: refused."""
    if layer.name in VERSIONED_LAYERS:
        own = f", of the features whose {layer.temporal} had come by then" if layer.temporal else ""
        return (
            "datetime=<instant|date|interval>: the layer as of that time, from its change "
            f"history{own} (the same as its items)"
        )
    if layer.tile_at:
        return f"datetime=<instant>: the layer at that instant (drawn by {layer.tile_at}.sql)"
    if layer.temporal:
        return f"datetime=<instant|interval>: the features whose {layer.temporal} is in it"
    return None
