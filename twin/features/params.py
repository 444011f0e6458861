"""One validator per items query parameter (tipg style), each returning a typed value.

A bad value raises FeatureQueryError naming the parameter and what is wrong with it, so the
hot path and the pygeoapi provider reject the same requests with the same message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twin.bbox import BboxError, parse_bbox
from twin.catalog import Layer
from twin.editing import VERSIONED_LAYERS
from twin.features.crs import OutputCrs, check_in_domain, clamp_to_world, crs_by_uri
from twin.features.errors import FeatureQueryError
from twin.features.filters import CompiledFilter, compile_filter
from twin.features.ids import ID_FORM, INTEGER_FORM, canonical_integer
from twin.features.times import instant

DEFAULT_LIMIT = 10
BIGINT = 2**63  # integers the database holds lie in -BIGINT..BIGINT-1
MAX_LIMIT = 10000
# Parameters of the items request itself; any other name is a property filter or ignored.
RESERVED = {
    "bbox",
    "bbox-crs",
    "crs",
    "f",
    "lang",
    "limit",
    "offset",
    "resulttype",
    "datetime",
    "sortby",
    "properties",
    "skipGeometry",
    "q",
    "filter",
    "filter-lang",
    "filter-crs",
}


@dataclass(frozen=True)
class TimeWindow:
    """An instant (start == end) or an interval; None is an open end ('..')."""

    start: dt.date | dt.datetime | None
    end: dt.date | dt.datetime | None


@dataclass(frozen=True)
class AsOf:
    """`datetime` on a versioned layer: the features as they were during [start, end].

    An instant is start == end; a date is the whole UTC day; an open end is -infinity or
    infinity. Rebuilt from the change history (twin_history) by twin.features.pages.relation.
    """

    start: dt.datetime | None
    end: dt.datetime | None

    def start_text(self) -> str:
        return "-infinity" if self.start is None else self.start.isoformat()

    def end_text(self) -> str:
        return "infinity" if self.end is None else self.end.isoformat()


@dataclass
class ItemsQuery:
    """A validated items request for one layer."""

    layer: Layer
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: OutputCrs = field(default_factory=lambda: crs_by_uri(None))
    datetime: TimeWindow | None = None  # on the layer's temporal property
    as_of: AsOf | None = None  # datetime on a versioned layer
    equals: list[tuple[str, Any]] = field(default_factory=list)
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    properties: list[str] | None = None  # None: all of them
    skip_geometry: bool = False
    crs: OutputCrs = field(default_factory=lambda: crs_by_uri(None))
    filter: CompiledFilter | None = None
    hits_only: bool = False


def integer_param(value: str, name: str, signed: bool = False) -> int:
    """A query parameter's integer in its one canonical form (twin.features.ids: ASCII digits,
    no '+', spaces, underscores or leading zeros; a minus only when `signed`), or a 400
    naming the parameter: int() alone would also read '1_0', ' 1 ' and '١٢'."""
    number = canonical_integer(value, signed)
    if number is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        lowest = -BIGINT if signed else 0
        raise FeatureQueryError(
            f"{name} must be an integer from {lowest} to {BIGINT - 1}, "
            f"got {shown!r}: {INTEGER_FORM if signed else ID_FORM}"
        )
    return number


def limit_param(value: str | None, maximum: int = MAX_LIMIT, default: int = DEFAULT_LIMIT) -> int:
    """`limit`: a positive integer, at most the server's max_items (more is an error)."""
    if value is None:
        return default
    if canonical_integer(value, signed=True) is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise FeatureQueryError(
            f"limit must be an integer from 1 to {maximum}, got {shown!r}: {ID_FORM}"
        )
    limit = integer_param(value, "limit", signed=True)
    if limit <= 0:
        raise FeatureQueryError(f"limit must be at least 1, got {limit}")
    if limit > maximum:
        raise FeatureQueryError(
            f"limit {limit} is over the maximum of {maximum} items; "
            "page with offset or the next links"
        )
    return limit


def offset_param(value: str | None) -> int:
    if value is None:
        return 0
    offset = integer_param(value, "offset", signed=True)
    if offset < 0:
        raise FeatureQueryError(f"offset must be zero or more, got {offset}")
    if offset >= BIGINT:
        raise FeatureQueryError(f"offset must be less than {BIGINT}, got {offset}")
    return offset


def bbox_param(value: str | None) -> tuple[float, float, float, float] | None:
    """`bbox`: minx,miny,maxx,maxy (or 6 numbers with heights, which are ignored); the rules
    are twin.bbox's, the one reader of a bbox for the whole twin."""
    if value is None:
        return None
    try:
        return parse_bbox(value)
    except BboxError as exc:
        raise FeatureQueryError(str(exc)) from None


def bbox_crs_param(value: str | None, bbox: object) -> OutputCrs:
    if value is not None and bbox is None:
        raise FeatureQueryError("bbox-crs was given without a bbox")
    return crs_by_uri(value, "bbox-crs")


def bbox_in_crs(
    bbox: tuple[float, float, float, float] | None, crs: OutputCrs
) -> tuple[float, float, float, float] | None:
    """The bbox within the area its CRS is defined for: a longitude/latitude box is cut to
    the world; a projected one beyond the CRS's area of use is a 400 naming its bounds."""
    if bbox is None:
        return None
    if crs.geographic:
        return clamp_to_world(crs, bbox)
    check_in_domain(crs, bbox, "bbox", "bbox-crs")
    return bbox


def crs_param(value: str | None) -> OutputCrs:
    return crs_by_uri(value, "crs")


def datetime_param(value: str | None, layer: Layer) -> TimeWindow | None:
    """`datetime` on a layer without history: an instant or an interval with '..' (or empty)
    for an open end, applied to the layer's temporal property."""
    if value is None or layer.name in VERSIONED_LAYERS:
        return None
    if not layer.temporal:
        raise FeatureQueryError(
            f"collection {layer.name} has no temporal property, so datetime cannot be applied"
        )
    if "/" not in value:
        moment = instant(value, "datetime")
        return TimeWindow(moment, moment)
    start, end = _interval_ends(value)
    if start is not None and end is not None and _as_datetime(start) > _as_datetime(end):
        raise FeatureQueryError(f"datetime interval starts after it ends: {value!r}")
    return TimeWindow(start, end)


def _interval_ends(value: str) -> tuple[dt.date | dt.datetime | None, dt.date | dt.datetime | None]:
    """The two ends of a `start/end` datetime interval; '..' or empty is an open end."""
    if value.count("/") != 1:
        raise FeatureQueryError(f"datetime interval must be start/end, got {value!r}")
    start_text, end_text = value.split("/")
    start = None if start_text in ("", "..") else instant(start_text, "datetime start")
    end = None if end_text in ("", "..") else instant(end_text, "datetime end")
    if start is None and end is None:
        raise FeatureQueryError(
            "datetime interval must have at least one closed end "
            f"(e.g. ../2024-05-01T00:00:00Z), got {value!r}"
        )
    return start, end


def as_of_param(value: str | None, layer: Layer) -> AsOf | None:
    """`datetime` on a versioned layer answers "as of": an instant (the layer as it was then),
    a date (as it was during that UTC day) or an interval (every feature that existed at any
    time in it, each in its latest version within it); '..' or empty is an open end."""
    if value is None or layer.name not in VERSIONED_LAYERS:
        return None
    if "/" not in value:
        moment = instant(value, "datetime")
        return AsOf(_day_start(moment), _day_end(moment))
    start, end = _interval_ends(value)
    window = AsOf(
        None if start is None else _day_start(start), None if end is None else _day_end(end)
    )
    if window.start is not None and window.end is not None and window.start > window.end:
        raise FeatureQueryError(f"datetime interval starts after it ends: {value!r}")
    return window


def _day_start(value: dt.date | dt.datetime) -> dt.datetime:
    return _as_datetime(value)


def _day_end(value: dt.date | dt.datetime) -> dt.datetime:
    """A date-time as it is; a date up to its last microsecond (UTC)."""
    if isinstance(value, dt.datetime):
        return value
    return _as_datetime(value) + dt.timedelta(days=1, microseconds=-1)


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def sortable(layer: Layer) -> list[str]:
    return ["id", *layer.properties]


def sortby_param(value: str | None, layer: Layer) -> list[tuple[str, bool]]:
    """`sortby`: comma-separated properties, each with an optional +/- (or :A/:D) order."""
    if value is None or value.strip() == "":
        return []
    keys: list[tuple[str, bool]] = []
    for raw in value.split(","):
        term = raw.strip()
        descending = False
        if term[:1] in "+-" and term:
            descending, term = term[0] == "-", term[1:]
        elif term.endswith((":A", ":D")):
            descending, term = term.endswith(":D"), term[:-2]
        if term not in sortable(layer):
            raise FeatureQueryError(
                f"sortby: unknown property {term!r} in collection "
                f"{layer.name}; sortable: {', '.join(sortable(layer))}"
            )
        keys.append((term, descending))
    return keys


def properties_param(value: str | None, layer: Layer) -> list[str] | None:
    """`properties`: the properties to return, in the catalog's order; empty means none."""
    if value is None:
        return None
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in layer.properties]
    if unknown:
        raise FeatureQueryError(
            f"properties: unknown propert{'y' if len(unknown) == 1 else 'ies'}"
            f" {', '.join(map(repr, unknown))} in collection {layer.name}; "
            f"known: {', '.join(layer.properties)}"
        )
    return [name for name in layer.properties if name in wanted]


def skip_geometry_param(value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise FeatureQueryError(f"skipGeometry must be true or false, got {value!r}")


def typed_value(layer: Layer, name: str, value: Any, what: str) -> Any:
    """A value converted to the Python type of a property, or a 400 naming both."""
    kind = "integer" if name == "id" else layer.properties[name].type
    try:
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                whole = value
            elif isinstance(value, str):  # one spelling per number; ids are never negative
                return integer_param(value, f"{what} {name}", signed=name != "id")
            else:
                raise ValueError
            if not -BIGINT <= whole < BIGINT:  # the database's bigint; beyond it no row
                raise ValueError
            return whole
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
        if kind in ("date", "datetime"):
            if isinstance(value, (dt.date, dt.datetime)):
                return value
            return instant(str(value), f"{what}: {name}")
        if isinstance(value, (dict, list, bool)) or value is None:
            raise ValueError
        return value if isinstance(value, str) else str(value)
    except (ValueError, TypeError, OverflowError):
        raise FeatureQueryError(
            f"{what}: {value!r} is not a valid {kind} for property "
            f"{name!r} of collection {layer.name}"
        ) from None


def equality_params(params: Mapping[str, str], layer: Layer) -> list[tuple[str, Any]]:
    """`<property>=<value>` query parameters (queryables as query parameters)."""
    return [
        (name, typed_value(layer, name, value, "query parameter"))
        for name, value in params.items()
        if name not in RESERVED and (name in layer.properties or name == "id")
    ]


def filter_param(
    text: str | None,
    lang: str | None,
    crs: str | None,
    layer: Layer,
    body: bytes | None = None,
    body_lang: str = "cql2-json",
) -> CompiledFilter | None:
    """`filter` (cql2-text by default, or cql2-json) or a CQL2 JSON request body."""
    # cql-text: cql2-text's pre-standard name, the one GDAL's OAPIF driver sends (its -where
    # is pushed down when /openapi lists it for filter-lang: twin.http.openapi)
    lang = "cql2-text" if lang == "cql-text" else lang
    if lang is not None and lang not in ("cql2-text", "cql2-json"):
        raise FeatureQueryError(
            f"filter-lang {lang!r} is not supported; use cql2-text or cql2-json"
        )
    filter_crs = crs_by_uri(crs, "filter-crs")
    if body:
        if text is not None:
            raise FeatureQueryError(
                "give the filter either as the filter parameter or as the request body, not both"
            )
        return compile_filter(layer, body.decode("utf-8", "replace"), body_lang, filter_crs)
    if text is None:
        if crs is not None:
            raise FeatureQueryError("filter-crs was given without a filter")
        return None
    return compile_filter(layer, text, lang or "cql2-text", filter_crs)


def filter_source(
    params: Mapping[str, str], body: bytes | None = None, body_lang: str = "cql2-json"
) -> tuple[str, str] | None:
    """The filter text and language a request carries, read without parsing, so the caller
    can decide where the parsing runs (off the event loop); None without a filter."""
    if body:
        return body.decode("utf-8", "replace"), body_lang
    text = params.get("filter")
    if text is None:
        return None
    return text, params.get("filter-lang") or "cql2-text"


def items_query(
    layer: Layer,
    params: Mapping[str, str],
    body: bytes | None = None,
    max_items: int = MAX_LIMIT,
    default_items: int = DEFAULT_LIMIT,
    body_lang: str = "cql2-json",
) -> ItemsQuery:
    """Every parameter of an items request validated, or the first problem as a 400."""
    bbox = bbox_param(params.get("bbox"))
    bbox_crs = bbox_crs_param(params.get("bbox-crs"), bbox)
    bbox = bbox_in_crs(bbox, bbox_crs)
    resulttype = params.get("resulttype", "results")
    if resulttype not in ("results", "hits"):
        raise FeatureQueryError(f"resulttype must be results or hits, got {resulttype!r}")
    return ItemsQuery(
        layer=layer,
        limit=limit_param(params.get("limit"), max_items, default_items),
        offset=offset_param(params.get("offset")),
        bbox=bbox,
        bbox_crs=bbox_crs,
        datetime=datetime_param(params.get("datetime"), layer),
        as_of=as_of_param(params.get("datetime"), layer),
        equals=equality_params(params, layer),
        sortby=sortby_param(params.get("sortby"), layer),
        properties=properties_param(params.get("properties"), layer),
        skip_geometry=skip_geometry_param(params.get("skipGeometry")),
        crs=crs_param(params.get("crs")),
        filter=filter_param(
            params.get("filter"),
            params.get("filter-lang"),
            params.get("filter-crs"),
            layer,
            body,
            body_lang,
        ),
        hits_only=resulttype == "hits",
    )
