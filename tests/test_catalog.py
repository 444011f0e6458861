"""The catalog is the single source of every layer fact: a planner reads each layer's title in
English, Russian and Kazakh, the panel's groups, which layers editors may change and the
programme's targets (value, year, source) from layers/*.yml, and the server, the editing API and
the viewer all say the same; the viewer's own code names no layer and no target."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import ROOT, run_twin
from twin.catalog import (
    COMPUTED_GROUPS,
    DATED_KINDS,
    LANGUAGES,
    CatalogError,
    analysis_inputs,
    catalog_info,
    editable_layers,
    groups,
    load_catalog,
    programme,
)

WEB_SRC = ROOT / "web" / "src"
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
CYRILLIC = re.compile(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]")


def viewer_code() -> dict[str, str]:
    """The viewer's modules without their comments (a comment may quote a figure)."""
    strip = re.compile(r"/\*.*?\*/|(?<![:'\"`\w])//[^\n]*", re.S)
    return {
        path.name: strip.sub("", path.read_text(encoding="utf-8"))
        for path in sorted(WEB_SRC.glob("*.js"))
    }


# -- titles ---------------------------------------------------------------------------------


def test_every_layer_has_its_title_in_english_russian_and_kazakh() -> None:
    for layer in load_catalog().values():
        titles = layer.titles
        assert set(titles) == set(LANGUAGES), (layer.name, titles)
        assert all(titles[lang].strip() for lang in LANGUAGES), layer.name
        assert layer.title == titles["en"], "code that wants a string still gets English"
        for lang in ("ru", "kk"):
            assert titles[lang] != titles["en"], f"{layer.name}: the {lang} title is English"
            assert CYRILLIC.search(titles[lang]), f"{layer.name}: {lang} title not in Cyrillic"
            assert not re.search(r"[A-Za-z]{2,}", titles[lang].replace("H3", "")), (
                f"{layer.name}: a Latin word in the {lang} title {titles[lang]!r}"
            )
        assert titles["kk"] != titles["ru"], f"{layer.name}: the Kazakh title is the Russian one"
    # Kazakh is written with its own letters: most titles have one (Ғимараттар, Көшелер ...)
    kazakh = [layer.titles["kk"] for layer in load_catalog().values()]
    with_letters = [title for title in kazakh if KAZAKH_LETTERS & set(title)]
    assert len(with_letters) >= 0.7 * len(kazakh), sorted(set(kazakh) - set(with_letters))
    assert load_catalog()["buildings"].titles["kk"] == "Ғимараттар"
    assert load_catalog()["plots"].titles["ru"] == "Земельные участки"


def test_the_panel_groups_and_their_titles_come_from_the_catalog() -> None:
    panel = groups()
    names = [group.name for group in panel]
    assert names[0] == "Land and buildings" and names[-1] == "Analysis"
    assert len(set(names)) == len(names)
    for group in panel:
        assert set(group.titles) == set(LANGUAGES), group
    assert {layer.group for layer in load_catalog().values()} <= set(names)
    analysis = next(group for group in panel if group.name == "Analysis")
    assert analysis.collapsed
    # computed layers sit in "Analysis" or in their topic group ("Hazards": the mudflow zones
    # beside the dams that protect them); "Analysis" holds computed layers only
    layers = load_catalog().values()
    assert {layer.group for layer in layers if layer.analysis} == set(COMPUTED_GROUPS)
    assert all(layer.analysis for layer in layers if layer.group == "Analysis")


# -- analysis inputs ------------------------------------------------------------------------


def test_each_analysis_reads_the_layers_that_say_they_feed_it() -> None:
    info = catalog_info()
    for layer in load_catalog().values():
        assert set(layer.feeds) <= set(info.analyses), layer.name
        assert not (layer.analysis and layer.feeds), f"{layer.name}: a result feeds nothing"
    assert set(analysis_inputs("fifteen")) == {"amenities", "transit_stops", "parks"}
    assert set(analysis_inputs("scene3d")) == {"buildings", "terrain"}
    mobility = set(analysis_inputs("mobility"))
    assert {"bike_lanes", "cameras", "police_posts", "streets", "plots", "terrain"} <= mobility
    assert "polycentres" not in mobility
    with pytest.raises(CatalogError, match="unknown analyses transit"):
        analysis_inputs("transit")


# -- editing --------------------------------------------------------------------------------


def add_user(role: str, *layers: str, check: bool = True) -> str:
    """`twin users add` as an admin runs it: the key it prints, or what it says on refusal."""
    args = ["users", "add", f"{role}-{uuid.uuid4().hex[:6]}", "--role", role]
    result = run_twin(*args, *(["--layers", ",".join(layers)] if layers else []), check=check)
    return result.stdout.strip().splitlines()[-1] if check else result.stdout + result.stderr


def test_the_editable_layers_are_exactly_those_the_editing_api_accepts(server) -> None:
    editable = set(editable_layers())
    assert editable == {"plots", "buildings", "parks", "amenities", "utility_lines"}
    assert all(load_catalog()[name].edit_role == "editor" for name in editable)
    admin = add_user("admin")
    headers = {"X-API-Key": admin, "Content-Type": "application/geo+json"}
    accepted = set()
    for name in load_catalog():
        # an empty feature: an editable layer reads it and names what is missing (400); any
        # other layer refuses to be written at all (405, read-only)
        answer = httpx.post(
            f"{server.url}/collections/{name}/items",
            headers=headers,
            content=json.dumps({"type": "Feature", "properties": {}}),
            timeout=60,
        )
        assert answer.status_code in (400, 405), (name, answer.status_code, answer.text)
        if answer.status_code == 400:
            accepted.add(name)
        else:
            assert "read-only" in answer.json()["description"], answer.text
    assert accepted == editable
    # nor can an editor be given a layer the catalog does not call editable
    refused = add_user("editor", "plots", "streets", check=False)
    assert "not editable: streets" in refused, refused


# -- the programme's figures ----------------------------------------------------------------


def test_every_target_has_a_value_a_year_and_a_source() -> None:
    figures = [f for ind in programme().indicators.values() for f in ind.figures.values()]
    figures += list(programme().mobility.values())
    assert len(figures) > 30
    for figure in figures:
        assert figure.source.strip(), figure
        assert figure.value is not None or figure.per_area, figure
        if figure.kind in DATED_KINDS:
            assert isinstance(figure.year, int) and 2000 <= figure.year <= 2040, figure
        if figure.kind == "parameter":
            assert figure.year is None and figure.source.startswith("Our"), figure
    served = programme().indicators["share_all_six"].served()
    assert served == {
        "target": 1.0,
        "year": 2030,
        "source": "S2 l.834: all daily needs within 15 minutes on foot or by public transport",
    }


def test_a_catalog_file_with_a_mistake_is_refused_naming_it(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    path = layers / "plots.yml"
    original = path.read_text(encoding="utf-8")
    for change, words in [
        ("group: Land and buildings", "group 'Land and biuldings' is none"),
        ("feeds: [city, mobility]", "feeds unknown analyses citty"),
        ("editable: true", "editable must be true or false"),
    ]:
        broken = {
            "group: Land and buildings": "group: Land and biuldings",
            "feeds: [city, mobility]": "feeds: [citty, mobility]",
            "editable: true": "editable: maybe",
        }[change]
        path.write_text(original.replace(change, broken, 1), encoding="utf-8")
        with pytest.raises(CatalogError, match=re.escape(words)):
            load_catalog(layers)
    path.write_text(original, encoding="utf-8")
    targets = layers / "_targets.yml"
    doc = yaml.safe_load(targets.read_text(encoding="utf-8"))
    del doc["indicators"]["share_all_six"]["figures"]["target"]["year"]
    targets.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="figure target is a target: it needs its year"):
        programme(layers)


def test_a_new_layer_is_one_file(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    (layers / "benches.yml").write_text(
        "name: benches\n"
        "title: {en: Benches, ru: Скамейки, kk: Орындықтар}\n"
        "group: Green\ngeometry: Point\nfeeds: [fifteen]\n"
        "properties:\n  material: {type: string, title: Material}\n",
        encoding="utf-8",
    )
    bench = load_catalog(layers)["benches"]
    assert bench.titles["kk"] == "Орындықтар" and bench.feeds == ("fifteen",)
    assert not bench.editable and "Green" in [g.name for g in groups(layers)]


# -- the viewer -----------------------------------------------------------------------------


def test_the_viewer_gets_titles_groups_and_targets_from_layers_json(server) -> None:
    panel = server.get("/viewer/layers.json").json()
    assert panel["languages"] == list(LANGUAGES)
    assert [g["name"] for g in panel["groups"]] == [g.name for g in groups()]
    catalog = load_catalog()
    for group in panel["groups"]:
        assert set(group["titles"]) == set(LANGUAGES)
        for entry in group["layers"]:
            assert entry["titles"] == catalog[entry["name"]].titles
            assert entry["editable"] == catalog[entry["name"]].editable
    assert panel["targets"] == json.loads(json.dumps(programme().document()))
    mobility = panel["targets"]["mobility"]
    assert mobility["camera_density_km2_2025"]["value"] == 50.0
    assert mobility["camera_density_km2_2025"]["year"] == 2025


def test_the_viewer_code_names_no_layer_title_and_no_target() -> None:
    code = viewer_code()
    catalog = load_catalog()
    names = "|".join(catalog)
    table = re.compile(rf"\b({names})\s*:\s*['\"`][^'\"`]*{CYRILLIC.pattern}")
    for module, text in code.items():
        assert not table.search(text), f"{module} keeps a table of layer titles"
    titles = [layer.titles[lang] for layer in catalog.values() for lang in ("ru", "kk")]
    titles += [group.titles[lang] for group in groups() for lang in ("ru", "kk")]
    for title in (t for t in titles if " " in t):
        for module, text in code.items():
            assert title not in text, f"{module} writes the title {title!r} itself"
    figures = [f for ind in programme().indicators.values() for f in ind.figures.values()]
    figures += list(programme().mobility.values())
    distinctive = set()
    for figure in figures:
        values = [figure.value] if figure.value is not None else []
        if isinstance(figure.value, float) and figure.value < 1:
            values = [round(figure.value * 100, 6)]  # a share is shown as a percentage
        for value in values:
            text = f"{value:g}"
            if "." in text or (float(value).is_integer() and value >= 100 and value % 50):
                distinctive.add(text)
    assert {"11.2", "13.4", "79.2", "23.9", "187", "39.6"} <= distinctive
    for text in distinctive:
        figure = re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w]|\.\d)")
        for module, source in code.items():
            assert not figure.search(source), f"{module} writes the programme's {text} itself"
