"""The public change feeds (JSON Feed 1.1 and Atom 1.0), the monthly summary per district and
the KPI trends, all read from the change_events layer (twin.changes.events keeps it current).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import psycopg

from twin.changes.events import district_names, refresh_change_events
from twin.changes.phrases import LANGS, title
from twin.errors import InvalidParameter
from twin.sqlfiles import query

FEED_LIMIT = 100
ATOM = "http://www.w3.org/2005/Atom"
GEORSS = "http://www.georss.org/georss"
FEED_TITLE = {
    "en": "Almaty Twin: changes in the city",
    "ru": "Цифровой двойник Алматы: изменения в городе",
    "kk": "Алматы цифрлық егізі: қаладағы өзгерістер",
}
SYNTHETIC_NOTE = {
    "en": "Synthetic (the demo's year of changes).",
    "ru": "Синтетические данные (демонстрационный год изменений).",
    "kk": "Синтетикалық деректер (демонстрациялық өзгерістер жылы).",
}
# The programme's figures the trends are read against (../shared/almaty-facts.md).
KPIS: dict[str, dict[str, Any]] = {
    "lit_share": {
        "title": "Share of street length lit at night",
        "unit": "share",
        "baseline": {"year": 2022, "value": 0.80, "source": "S2 l.1281: ~20% of streets unlit"},
        "target": {"year": 2025, "value": 1.0, "source": "S2 l.1430, S4: 100% lit by 2025"},
    },
    "park_area_ha": {
        "title": "Area of existing parks and public green",
        "unit": "ha",
        "baseline": {
            "year": 2022,
            "value": 631.2,
            "source": "S2 l.4409: 211 parks, squares and boulevards, 631.2 ha (inventory)",
        },
        "target": None,
    },
    "schools": {
        "title": "Schools",
        "unit": "schools",
        "baseline": None,
        "target": None,
    },
    "floor_area_built_m2": {
        "title": "Floor area commissioned in the month",
        "unit": "m2",
        "baseline": {
            "year": 2022,
            "value": round(1_506_300 / 12),
            "source": "S2 l.634: 1,506.3 thousand m2 commissioned in 2022 (a month's share)",
        },
        "target": {
            "growth_per_year": 0.10,
            "source": "S2 l.634: +10% a year",
        },
    },
}


def lang_param(value: str | None) -> str:
    if value is None:
        return "en"
    if value not in LANGS:
        raise InvalidParameter(f"lang must be one of {', '.join(LANGS)}, got {value[:20]!r}")
    return value


def district_param(conn: psycopg.Connection, value: str | None) -> str | None:
    """A district by its name in any of the three languages (its English name back)."""
    if value is None:
        return None
    for en, names in district_names(conn).items():
        if value.strip().casefold() in {n.casefold() for n in names.values()}:
            return en
    known = ", ".join(district_names(conn))
    raise InvalidParameter(f"unknown district {value[:60]!r}: use one of {known}")


def layer_param(conn: psycopg.Connection, value: str | None) -> str | None:
    from twin.editing import VERSIONED_LAYERS

    if value is None:
        return None
    if value not in VERSIONED_LAYERS:
        raise InvalidParameter(
            f"layer must be one of the layers whose changes are kept "
            f"({', '.join(VERSIONED_LAYERS)}), got {value[:60]!r}"
        )
    return value


def feed_items(
    conn: psycopg.Connection, district: str | None, layer: str | None, limit: int = FEED_LIMIT
) -> list[dict[str, Any]]:
    """The newest change events (after catching up with the history)."""
    refresh_change_events(conn)
    rows = conn.execute(
        query("changes/feed"), {"district": district, "layer": layer, "limit": limit}
    ).fetchall()
    keys = [
        "id",
        "happened_at",
        "layer",
        "feature_id",
        "district",
        "kind",
        "subject",
        "count",
        "quantity",
        "unit",
        "title_en",
        "title_ru",
        "title_kk",
        "synthetic",
        "lon",
        "lat",
    ]
    return [dict(zip(keys, row)) for row in rows]


def _self_query(lang: str, district: str | None, layer: str | None) -> str:
    parts = [f"lang={lang}"]
    if district:
        parts.append(f"district={district}")
    if layer:
        parts.append(f"layer={layer}")
    return "?" + "&".join(parts)


def _content(item: dict[str, Any], lang: str) -> str:
    text = item[f"title_{lang}"]
    if item["quantity"] is not None and item["unit"]:
        text += f" ({item['quantity']:,.0f} {item['unit']})"
    if item["synthetic"]:
        text += " " + SYNTHETIC_NOTE[lang]
    return text


def json_feed(
    items: list[dict[str, Any]], base: str, lang: str, district: str | None, layer: str | None
) -> dict[str, Any]:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1) of the change events."""
    q = _self_query(lang, district, layer)
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": FEED_TITLE[lang] + (f" — {district}" if district else ""),
        "home_page_url": f"{base}/collections/change_events",
        "feed_url": f"{base}/changes/feed.json{q}",
        "description": "What was built, rebuilt, lit, opened and removed, per district",
        "language": lang,
        "items": [
            {
                "id": f"{base}/collections/change_events/items/{item['id']}",
                "url": f"{base}/collections/change_events/items/{item['id']}",
                "title": item[f"title_{lang}"],
                "content_text": _content(item, lang),
                "date_published": item["happened_at"].isoformat(),
                "tags": [t for t in (item["layer"], item["kind"], item["district"]) if t],
                "_twin": {
                    "layer": item["layer"],
                    "feature_id": item["feature_id"],
                    "district": item["district"],
                    "kind": item["kind"],
                    "subject": item["subject"],
                    "count": item["count"],
                    "quantity": item["quantity"],
                    "unit": item["unit"],
                    "synthetic": item["synthetic"],
                    "coordinates": [item["lon"], item["lat"]],
                },
            }
            for item in items
        ],
    }


def atom_feed(
    items: list[dict[str, Any]], base: str, lang: str, district: str | None, layer: str | None
) -> bytes:
    """Atom 1.0 (RFC 4287) of the change events; ElementTree escapes every text."""
    ET.register_namespace("", ATOM)
    ET.register_namespace("georss", GEORSS)
    q = _self_query(lang, district, layer)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": lang})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    sub(feed, "id", f"{base}/changes/atom.xml{q}")
    sub(feed, "title", FEED_TITLE[lang] + (f" — {district}" if district else ""))
    updated = items[0]["happened_at"] if items else dt.datetime.now(dt.UTC)
    sub(feed, "updated", updated.isoformat())
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/changes/atom.xml{q}")
    sub(
        feed,
        "link",
        rel="alternate",
        type="application/feed+json",
        href=f"{base}/changes/feed.json{q}",
    )
    author = sub(feed, "author")
    sub(author, "name", "Almaty Twin")
    for item in items:
        url = f"{base}/collections/change_events/items/{item['id']}"
        entry = sub(feed, "entry")
        sub(entry, "id", url)
        sub(entry, "title", item[f"title_{lang}"])
        sub(entry, "updated", item["happened_at"].isoformat())
        sub(entry, "link", rel="alternate", type="application/geo+json", href=url)
        sub(entry, "summary", _content(item, lang))
        sub(entry, "category", term=item["kind"])
        if item["district"]:
            sub(entry, "category", term=item["district"], scheme=f"{base}/collections/districts")
        if item["lat"] is not None:
            ET.SubElement(entry, f"{{{GEORSS}}}point").text = f"{item['lat']} {item['lon']}"
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def month_param(value: str | None) -> dt.date:
    """YYYY-MM (default: this month, UTC) as the month's first day."""
    if value is None:
        today = dt.datetime.now(dt.UTC).date()
        return today.replace(day=1)
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise InvalidParameter(
            f"month must be YYYY-MM (e.g. 2026-11), got {value[:20]!r}"
        ) from None


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_summary(conn: psycopg.Connection, district: str | None, month: dt.date) -> dict[str, Any]:
    """A month of changes per district: "12 streets lit in Turksib", in en, ru and kk."""
    refresh_change_events(conn)
    names = district_names(conn)
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime.combine(_next_month(month), dt.time(), tzinfo=dt.UTC)
    rows = conn.execute(
        query("changes/summary"), {"start": start, "end": end, "district": district}
    ).fetchall()
    by_district: dict[str | None, list[dict[str, Any]]] = {}
    for where, layer, kind, subject, count, events, quantity, unit, synthetic in rows:
        where_names = names.get(where) if where else None
        by_district.setdefault(where, []).append(
            {
                "layer": layer,
                "kind": kind,
                "subject": subject,
                "count": int(count),
                "events": int(events),
                "quantity": None if quantity is None else round(float(quantity), 1),
                "unit": unit,
                "synthetic": bool(synthetic),
                "titles": {
                    lang: title(kind, subject, int(count), where_names, lang) for lang in LANGS
                },
            }
        )
    return {
        "month": month.strftime("%Y-%m"),
        "from": start.isoformat(),
        "until": end.isoformat(),
        "district": district,
        "districts": [
            {
                "district": where,
                "names": names.get(where) if where else None,
                "changes": changes,
            }
            for where, changes in by_district.items()
        ],
    }


def kpi_list() -> dict[str, Any]:
    """The KPIs that have a trend, with title, unit, baseline, target and the trend's link."""
    return {
        "kpis": [
            {
                "kpi": name,
                **{k: fact.get(k) for k in ("title", "unit", "baseline", "target")},
                "href": f"/indicators/trend?kpi={name}",
            }
            for name, fact in KPIS.items()
        ]
    }


def kpi_param(value: str | None) -> str:
    if value not in KPIS:
        raise InvalidParameter(f"kpi must be one of {', '.join(KPIS)}, got {str(value)[:40]!r}")
    return value


def kpi_trend(conn: psycopg.Connection, kpi: str, since: dt.date | None = None) -> dict[str, Any]:
    """A KPI by month since the first month the twin has changes for (at most since 2022),
    walking today's value back through the change events; with the 2022 baseline and target."""
    refresh_change_events(conn)
    since = since or dt.date(2022, 1, 1)
    lit_m, street_m, park_ha, schools = conn.execute(query("changes/present")).fetchone()
    rows = conn.execute(query("changes/monthly"), {"since": since}).fetchall()
    delta: dict[dt.date, float] = {}
    for month, kind, subject, count, quantity in rows:
        change = 0.0
        if kpi == "lit_share" and kind == "lit":
            change = float(quantity)
        elif kpi == "park_area_ha" and subject == "park" and kind in ("opened", "closed"):
            change = float(quantity) * (1 if kind == "opened" else -1)
        elif kpi == "schools" and subject == "school" and kind in ("opened", "closed"):
            change = float(count) * (1 if kind == "opened" else -1)
        elif kpi == "floor_area_built_m2" and subject == "building" and kind == "built":
            change = float(quantity)
        delta[month] = delta.get(month, 0.0) + change
    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    first = min(delta) if delta else this_month
    months = [first]
    while months[-1] < this_month:
        months.append(_next_month(months[-1]))
    present = {"lit_share": float(lit_m), "park_area_ha": float(park_ha), "schools": schools}
    series = []
    if kpi == "floor_area_built_m2":
        series = [{"month": m.strftime("%Y-%m"), "value": round(delta.get(m, 0.0))} for m in months]
    else:
        value = present[kpi]
        values = []
        for month in reversed(months):  # the end of each month, newest first
            values.append((month, value))
            value -= delta.get(month, 0.0)
        for month, value in reversed(values):
            if kpi == "lit_share":
                value = value / float(street_m) if street_m else None
            series.append(
                {
                    "month": month.strftime("%Y-%m"),
                    "value": None
                    if value is None
                    else round(value, 4 if kpi == "lit_share" else 1),
                }
            )
    spec = KPIS[kpi]
    return {
        "kpi": kpi,
        "title": spec["title"],
        "unit": spec["unit"],
        "baseline": spec["baseline"],
        "target": spec["target"],
        "trend": series,
        "note": "Each month's value is at its end (a flow: the month's sum), walked back from "
        "today's twin through the change events (/collections/change_events); months before "
        "the twin's first change are not guessed.",
    }
