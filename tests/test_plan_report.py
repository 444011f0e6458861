"""A planner downloads the report of "North polycentre 2030": PDF, HTML, CSV and GeoPackage, in
Russian, Kazakh and English, every figure the one the evaluation holds.

The plan is evaluated the real way on the small demo city (twin.plans.evaluate.evaluate_plan),
then handed to render_report as the API hands it: the plan document and its cells.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pypdf
import pytest
import yaml
from PIL import Image

from twin.analysis.city import current_city
from twin.errors import InvalidParameter
from twin.plans import report
from twin.plans.edits import parse_edits
from twin.plans.evaluate import evaluate_plan

# edits on the small demo (seed 1): inside Zhetysu / the North polycentre and Almaly
NORTH_SCHOOL = [76.925, 43.335]
SECOND_SCHOOL = [76.905, 43.30]
NEW_PARK = [
    [
        [76.915, 43.318],
        [76.925, 43.318],
        [76.925, 43.324],
        [76.915, 43.324],
        [76.915, 43.318],
    ]
]
TITLE = "North polycentre 2030 — «Солтүстік» & <b>co</b>"


def _edits(removed_school: int) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "e1",
                "geometry": {"type": "Point", "coordinates": NORTH_SCHOOL},
                "properties": {
                    "edit": "amenity.add",
                    "category": "education",
                    "kind": "school",
                    "name": "School No. 301",
                    "capacity": 1200,
                },
            },
            {
                "type": "Feature",
                "id": "e2",
                "geometry": {"type": "Point", "coordinates": SECOND_SCHOOL},
                "properties": {
                    "edit": "amenity.add",
                    "category": "healthcare",
                    "kind": "clinic",
                    "name": "Clinic North",
                },
            },
            {
                "type": "Feature",
                "id": "e3",
                "geometry": {"type": "Polygon", "coordinates": NEW_PARK},
                "properties": {"edit": "park.add", "kind": "boulevard", "name": "Canal boulevard"},
            },
            {
                "type": "Feature",
                "id": "e4",
                "geometry": None,
                "properties": {"edit": "amenity.remove", "amenity": removed_school},
            },
        ],
    }


@pytest.fixture(scope="module")
def evaluated(analysed_city: str) -> dict[str, Any]:
    """The plan document as GET /plans/{id} gives it, and the evaluation's changed cells."""
    with psycopg.connect(analysed_city, autocommit=True) as conn:
        school, school_name = conn.execute(
            "SELECT id, name FROM amenities WHERE kind = 'school' ORDER BY id LIMIT 1"
        ).fetchone()
        edits = _edits(school)
        city = current_city(conn)
        evaluation = evaluate_plan(city, parse_edits(edits, city), "slope", conn=conn)
    cells = evaluation.pop("changed_cells")
    plan = {
        "id": 7,
        "title": TITLE,
        "description": "40,000 new residents, two schools and a corridor.\nDraft for the akimat.",
        "author": "aigerim",
        "private": False,
        "created": "2026-03-02T09:15:00+00:00",
        "updated": "2026-03-02T10:40:00+00:00",
        "version": 3,
        "base_version": evaluation["base_version"],
        "stale": False,
        "status": "evaluated",
        "mode": "slope",
        "edits": edits,
        "evaluation": evaluation,
        "changed_cells": {"count": len(cells), "items": None, "tiles": None},
        "links": [],
    }
    return {"plan": plan, "cells": cells, "removed": (school, school_name)}


def _pdf_text(body: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(body))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return len(reader.pages), re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _plain(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def test_pdf_holds_the_evaluations_figures(db: psycopg.Connection, evaluated: dict) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    assert cells, "the plan should change some cells"
    started, cpu_started = time.perf_counter(), time.process_time()
    body, media, name = report.render_report(db, plan, cells, "pdf", "ru")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"PDF (ru) of {len(cells)} changed cells: {seconds:.2f} s "
        f"({cpu:.2f} s of CPU), {len(body):,} bytes"
    )
    assert media == "application/pdf"
    assert name == "plan-7-north-polycentre-2030-b-co-b-ru.pdf"
    assert body.startswith(b"%PDF-")
    pages, text = _pdf_text(body)
    assert pages >= 2
    assert "Отчёт по плану" in text
    assert _plain(TITLE) in text  # the title as typed, markup shown as text
    evaluation = plan["evaluation"]
    city_base = evaluation["base"]["city"]["share_all_six"]
    city_plan = evaluation["indicators"]["city"]["share_all_six"]
    base_text = _plain(report.format_value("share_all_six", city_base, "ru"))
    plan_text = _plain(report.format_value("share_all_six", city_plan, "ru"))
    row = f"Все шесть категорий в 15 минутах {base_text} {plan_text}"
    assert row in text
    residents = evaluation["indicators"]["city"]["residents"]
    assert _plain(report.format_value("residents", residents, "ru")) in text
    # the programme's green targets beside green per resident
    assert "≥ 10,0 (норма)" in text
    assert "11,2 (2025)" in text and "13,4 (2030)" in text
    # every district's table, under its Russian name
    for name_ru in db.execute("SELECT name_ru FROM districts").fetchall():
        assert name_ru[0] in text
    # the edits listed with their names, the removed school by the name it has today
    assert "School No. 301" in text and "Canal boulevard" in text
    assert evaluated["removed"][1] in text
    # gains: the city's residents gaining a category within 15 minutes
    gained = evaluation["gains"]["city"]["categories_15"]["gain"]
    assert "+" + _plain(report.format_number(gained, "ru")) in text
    # The ≤ 5 s target is `twin bench plans`' (report_pdf_s): a test sharing two cores with
    # another worker measured 3.65 s of CPU quiet and 5.03 s in a full run, so here only a
    # gross slip fails (twice the target, in CPU time: the wall time says even less)
    assert cpu < 10, f"the PDF took {cpu:.1f} s of CPU (bench target ≤ 5 s)"


def test_pdf_in_kazakh_and_english(db: psycopg.Connection, evaluated: dict) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    body, _, name = report.render_report(db, plan, cells, "pdf", "kk")
    assert name.endswith("-kk.pdf")
    _, text = _pdf_text(body)
    for words in ("Жоспар бойынша есеп", "Көрсеткіштер", "Бағдарлама мақсаты", "Аудандар"):
        assert words in text, words
    assert "Солтүстік" in text  # the North polycentre's Kazakh name
    kk_names = [r[0] for r in db.execute("SELECT name_kk FROM districts").fetchall()]
    assert all(n in text for n in kk_names)
    body, _, _ = report.render_report(db, plan, cells, "pdf", "en")
    _, text = _pdf_text(body)
    city = plan["evaluation"]["indicators"]["city"]
    assert "Plan report" in text and "Programme target" in text
    html, _, _ = report.render_report(db, plan, cells, "html", "en")
    _pdf_pictures_show_the_edits(body, html.decode("utf-8"))
    assert report.format_value("share_all_six", city["share_all_six"], "en") in text
    assert report.format_value("residents", city["residents"], "en") in text


def _pictures(html: str) -> list[tuple[Image.Image, tuple[float, ...], int]]:
    """The report's map pictures: (image, its lon/lat bounds, bytes of its PNG)."""
    found = re.findall(
        r'<img class="map" src="data:image/png;base64,([^"]+)"[^>]*data-bounds="([^"]+)"', html
    )
    pictures = []
    for data, bounds in found:
        png = base64.b64decode(data)
        image = Image.open(io.BytesIO(png))
        image.load()  # decodes whole
        pictures.append((image, tuple(float(v) for v in bounds.split(",")), len(png)))
    return pictures


def _pixel(image: Image.Image, bounds: tuple[float, ...], lon: float, lat: float):
    """The colour of the picture at (lon, lat): Web Mercator, north up, by hand."""

    def y(latitude: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(latitude) / 2))

    west, south, east, north = bounds
    column = (lon - west) / (east - west) * image.width
    row = (y(north) - y(lat)) / (y(north) - y(south)) * image.height
    return image.convert("RGB").getpixel((int(column), int(row)))


def _near(actual: tuple[int, ...], hex_colour: str, tolerance: int = 8) -> bool:
    expected = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_the_maps_are_pictures_of_the_city_with_the_plan_drawn_on(
    db: psycopg.Connection, evaluated: dict
) -> None:
    """The server's map renderer draws the city in the published style, the plan's edits in
    their colours on top; scale and north are marked (the PDF: test_pdf_in_kazakh_and_english)."""
    plan, cells = evaluated["plan"], evaluated["cells"]
    body, _, _ = report.render_report(db, plan, cells, "html", "en")
    html = body.decode("utf-8")
    pictures = _pictures(html)
    assert len(pictures) == 2  # the edits map and the changed cells map
    new_amenity = report.EDIT_COLOURS["amenity.add"]
    for image, bounds, size in pictures:
        assert image.format == "PNG" and image.size == (1360, 880)  # 680 x 440 at 2x
        assert size < 1_500_000
        west, south, east, north = bounds
        assert west < NORTH_SCHOOL[0] < east and south < NORTH_SCHOOL[1] < north
        for lon, lat in (NORTH_SCHOOL, SECOND_SCHOOL):
            assert _near(_pixel(image, bounds, lon, lat), new_amenity), (lon, lat)
        # 300 m west of the new school: the city, not the edit's colour
        away = _pixel(image, bounds, NORTH_SCHOOL[0] - 0.0037, NORTH_SCHOOL[1])
        assert not _near(away, new_amenity, 30)
    assert html.count('class="scale-bar"') == 2 and html.count('class="north-arrow"') == 2
    assert ">e1</text>" in html and "map-note" not in html
    assert report.EDIT_COLOURS["park.add"] in html  # the legend is kept


def _pdf_pictures_show_the_edits(pdf: bytes, html: str) -> None:
    """The PDF carries the HTML's two map pictures, the new school in its colour."""
    drawn = {  # WeasyPrint lists the page images in every page's resources: distinct ones
        hashlib.sha256(image.image.tobytes()).hexdigest(): image.image
        for page in pypdf.PdfReader(io.BytesIO(pdf)).pages
        for image in page.images
        if image.image is not None and image.image.size == (1360, 880)
    }
    assert len(drawn) == 2
    bounds = [b for _, b, _ in _pictures(html)]
    colour = report.EDIT_COLOURS["amenity.add"]
    for picture in drawn.values():
        assert any(_near(_pixel(picture, b, *NORTH_SCHOOL), colour) for b in bounds)


def test_html_maps_the_cells_and_the_edits(
    db: psycopg.Connection, evaluated: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With map drawing off, the maps are SVG sketches and the report says why."""
    monkeypatch.setenv("TWIN_MAP_WORKERS", "0")
    plan, cells = evaluated["plan"], evaluated["cells"]
    body, media, name = report.render_report(db, plan, cells, "html", "ru")
    assert media.startswith("text/html") and name.endswith(".html")
    html = body.decode("utf-8")
    assert html.count("<svg") == 2  # the edits map and the changed cells map
    assert "<img" not in html
    assert html.count("TWIN_MAP_WORKERS=0") == 2  # under each map, why it is a sketch
    assert html.count('class="scale-bar"') == 2 and html.count('class="north-arrow"') == 2
    cells_svg = html[html.rindex("<svg") :]
    # one path per colour of change; together they hold one ring per cell
    drawn = sum(
        len(re.findall(r"M[0-9.]", d))
        for d in re.findall(r'<path d="([^"]+)" fill="#[0-9a-f]{6}" stroke="none"', cells_svg)
    )
    assert drawn == len(cells)
    changes = {report.cell_change(c) for c in cells}
    for change in changes:
        colour = report.CELL_COLOURS[max(-3, min(3, change))]
        assert f'fill="{colour}" stroke="none"' in cells_svg
    # the edits: the new school as a point, the boulevard as a polygon, the removed school
    # where it stands today
    edits_svg = html[html.index("<svg") : html.index("</svg>")]
    assert edits_svg.count("<circle") == 3
    for ident in ("e1", "e2", "e3", "e4"):
        assert f">{ident}</text>" in edits_svg  # each edit labelled with its id
    assert report.EDIT_COLOURS["park.add"] in edits_svg
    assert report.EDIT_COLOURS["amenity.remove"] in edits_svg
    # no markup from the title gets through, in the page or in the page's CSS
    assert "<b>co</b>" not in html and "&lt;b&gt;co&lt;/b&gt;" in html
    assert "<script" not in html


def test_csv_rows_equal_the_evaluation(db: psycopg.Connection, evaluated: dict) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    body, media, name = report.render_report(db, plan, cells, "csv", "ru")
    assert media.startswith("text/csv") and name.endswith(".csv")
    assert body.startswith("\ufeff".encode())  # Excel reads the Cyrillic right
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0])[:7] == [
        "area_type",
        "area",
        "indicator",
        "base",
        "plan",
        "difference",
        "target",
    ]
    evaluation = plan["evaluation"]
    sections = {"city": None, "district": "districts", "polycentre": "polycentres"}
    checked = 0
    for row in rows:
        if row["area_type"] not in sections or row["indicator"].startswith("residents_"):
            continue
        if row["indicator"].endswith("_deficit_closed"):
            continue
        group = sections[row["area_type"]]
        base = (
            evaluation["base"]["city"] if group is None else evaluation["base"][group][row["area"]]
        )
        now = (
            evaluation["indicators"]["city"]
            if group is None
            else evaluation["indicators"][group][row["area"]]
        )
        if row["indicator"] in report.WALK_PT_KEYS:  # KPI 4 by walk + PT: the `walk_pt` rows
            pt = evaluation["walk_pt"]
            base = pt["base"]["city"] if group is None else pt["base"][group][row["area"]]
            now = pt["plan"]["city"] if group is None else pt["plan"][group][row["area"]]
        for column, source in (("base", base), ("plan", now)):
            value = source[row["indicator"]]
            if value is None:
                assert row[column] == ""
            else:
                assert float(row[column]) == pytest.approx(float(value), abs=0, rel=1e-12)
        if row["base"] and row["plan"]:
            assert float(row["difference"]) == pytest.approx(
                float(row["plan"]) - float(row["base"]), abs=1e-9
            )
        checked += 1
    n_areas = (
        1
        + len(evaluation["indicators"]["districts"])
        + len(evaluation["indicators"]["polycentres"])
    )
    assert checked >= n_areas * 10
    targets = {(r["area"], r["indicator"]): r["target"] for r in rows}
    assert (
        targets[("Almaty", "green_m2_per_resident")] == ">=10 (norm); >=11.2 (2025); >=13.4 (2030)"
    )
    assert targets[("Almaty", "share_all_six")] == ">=1 (2030)"
    assert targets[("North", "density_pph")] == ">=120 (norm)"
    gain = next(
        r
        for r in rows
        if r["area"] == "Almaty" and r["indicator"] == "residents_gain_categories_15"
    )
    assert int(gain["plan"]) == evaluation["gains"]["city"]["categories_15"]["gain"]


def test_geopackage_has_the_three_layers(
    db: psycopg.Connection, evaluated: dict, tmp_path: Path
) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    body, media, name = report.render_report(db, plan, cells, "gpkg", "en")
    assert media == "application/geopackage+sqlite3" and name.endswith(".gpkg")
    path = tmp_path / name
    path.write_bytes(body)
    rows = report.indicator_rows(plan)
    expected = {"edits": 4, "changed_cells": len(cells), "indicators": len(rows)}
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo:
        for layer, count in expected.items():
            out = subprocess.run(
                [ogrinfo, "-so", str(path), layer], capture_output=True, text=True, check=True
            ).stdout
            assert f"Feature Count: {count}" in out, out
        listing = subprocess.run(
            [ogrinfo, "-so", "-q", str(path)], capture_output=True, text=True, check=True
        )
        assert "edits" in listing.stdout and "changed_cells (Polygon)" in listing.stdout
        assert "Warning" not in listing.stderr  # Debian's GDAL reads it fully
    with sqlite3.connect(path) as gpkg:
        tables = dict(gpkg.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        assert tables == {
            "edits": "features",
            "changed_cells": "features",
            "indicators": "attributes",
        }
        removed = gpkg.execute("SELECT properties FROM edits WHERE edit_id = 'e4'").fetchone()
        assert json.loads(removed[0]) == {
            "edit": "amenity.remove",
            "amenity": evaluated["removed"][0],
        }


def test_every_word_in_three_languages() -> None:
    doc = yaml.safe_load(report.STRINGS_FILE.read_text(encoding="utf-8"))

    def keys(tree: dict, prefix: str = "") -> set[str]:
        found = set()
        for k, v in tree.items():
            found |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
        return found

    assert set(doc) == set(report.LANGUAGES)
    assert keys(doc["ru"]) == keys(doc["kk"]) == keys(doc["en"])
    for lang in report.LANGUAGES:
        assert set(doc[lang]["indicator_labels"]) >= {k for k, _ in report.INDICATORS}
        assert set(doc[lang]["edit_kinds"]) == set(report.EDIT_COLOURS)
    assert report.format_number(1234567.891, "ru", 1) == "1\u00a0234\u00a0567,9"
    assert report.format_number(-0.5, "en", 1) == "\u22120.5"
    assert report.format_value("share_all_six", 0.4567, "kk") == "45,7\u00a0%"
    assert report.format_difference("share_all_six", 0.40, 0.413, "ru") == "+1,3\u00a0п. п."


def test_bad_format_or_language_is_a_400(db: psycopg.Connection, evaluated: dict) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    with pytest.raises(InvalidParameter, match="f must be one of pdf, html, csv, gpkg"):
        report.render_report(db, plan, cells, "docx", "ru")
    with pytest.raises(InvalidParameter, match="lang must be one of ru, kk, en"):
        report.render_report(db, plan, cells, "pdf", "de")


def test_an_unevaluated_plan_lists_its_edits(db: psycopg.Connection, evaluated: dict) -> None:
    plan = dict(evaluated["plan"], evaluation=None, status="new", stale=True)
    body, _, _ = report.render_report(db, plan, [], "pdf", "en")
    pages, text = _pdf_text(body)
    assert pages >= 1
    assert "not evaluated yet" in text and "stale" in text
    assert "School No. 301" in text and "Canal boulevard" in text
    body, _, _ = report.render_report(db, plan, [], "csv", "en")
    assert body.decode("utf-8-sig").strip().splitlines() == [
        "area_type,area,indicator,base,plan,difference,target,label"
    ]


def test_school_places_against_children(db: psycopg.Connection, evaluated: dict) -> None:
    plan, cells = evaluated["plan"], evaluated["cells"]
    schools = plan["evaluation"]["schools"]
    assert schools.get("base") and schools.get("plan"), "the evaluation holds school places"
    body, _, _ = report.render_report(db, plan, cells, "pdf", "ru")
    _, text = _pdf_text(body)
    assert "Места в школах и детских садах" in text
    for figure in (schools["base"]["places"], schools["plan"]["places"]):
        assert _plain(report.format_number(figure, "ru")) in text
    assert (
        f"План закрывает дефицит {_plain(report.format_number(schools['deficit_closed'], 'ru'))}"
        in text
    )
