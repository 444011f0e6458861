"""Seismic strengthening as the programme counts it (S2 l.5071, l.640): the ~10,000 attested
pre-2001 buildings are the apartment and public stock, 70% of them need strengthening and 239
(2%) have been strengthened; private houses built before 2001 are carried separately."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import shared_data_or_skip
from twin.demo.figures import figures
from twin.demo.generator import generate

SPEC = figures()["seismic"]
ATTESTED = ("compliant", "needs_strengthening", "strengthened")


def _counts(buildings: pd.DataFrame) -> dict[str, int]:
    old = buildings["year_built"] < SPEC["code_year"]
    stock = buildings["stock"]
    status = buildings["seismic_status"]
    attested = old & stock.isin(["apartment", "public"]) & status.isin(ATTESTED)
    return {
        "pool": int((old & stock.isin(["apartment", "public"])).sum()),
        "attested": int(attested.sum()),
        "need": int((status == "needs_strengthening").sum()),
        "done": int((status == "strengthened").sum()),
        "private_old": int((old & (stock == "private_house")).sum()),
        "private_assessed": int(
            (old & (stock == "private_house") & (status != "not_attested")).sum()
        ),
        "new_not_compliant": int((~old & (status != "compliant")).sum()),
        "outside_stock": int((~attested & status.isin(ATTESTED[1:])).sum()),
    }


def _check_shares(c: dict[str, int], share_of_pool: bool = True) -> None:
    """The programme's shares hold within the attested stock, whatever its size."""
    assert c["attested"] > 0
    assert abs(c["need"] / c["attested"] - SPEC["needs_strengthening_share"]) < 0.005
    done_share = SPEC["strengthened"] / SPEC["attested_buildings"]  # 239 of 10,156 = 2.4%
    assert abs(c["done"] - done_share * c["attested"]) <= 0.5
    if share_of_pool:
        assert abs(c["attested"] / c["pool"] - SPEC["attested_share_of_old_stock"]) < 0.001
    assert c["private_old"] > 0 and c["private_assessed"] == 0  # carried apart
    assert c["new_not_compliant"] == 0 and c["outside_stock"] == 0


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return generate("small", 1).layers["buildings"]


def test_small_scale_has_the_programmes_shares_of_the_attested_stock(small):
    c = _counts(small)
    _check_shares(c)
    assert 2000 < c["attested"] < 3000  # 2,391 at seed 1: the city's 10,156 share
    assert set(small["stock"]) == {"apartment", "public", "private_house", "other"}


def test_city_scale_has_about_ten_thousand_attested_and_239_strengthened():
    c = _counts(generate("city", 1).layers["buildings"])
    _check_shares(c, share_of_pool=False)
    assert c["attested"] == 10_156  # S2 l.640: 10,156 passported; l.5071: >10 thousand
    assert c["need"] == 7_109  # 70%, S2 l.5071: ~7 thousand
    assert c["done"] == 239  # S2 l.5071
    assert c["pool"] > 20_000  # the attested are drawn from a larger pre-2001 stock


def test_base_mode_keeps_the_shares():
    shared = shared_data_or_skip()
    _check_shares(_counts(generate("small", 3, shared).layers["buildings"]))


def test_the_dashboard_counts_the_attested_stock_and_private_houses_apart(
    server, analysed_city, db
):
    stored = dict(
        zip(
            ("attested", "need", "done", "private_old"),
            db.execute(
                "SELECT count(*) FILTER (WHERE stock IN ('apartment', 'public') "
                "  AND seismic_status <> 'not_attested'), "
                "count(*) FILTER (WHERE seismic_status = 'needs_strengthening'), "
                "count(*) FILTER (WHERE seismic_status = 'strengthened'), "
                "count(*) FILTER (WHERE stock = 'private_house') "
                "FROM buildings WHERE year_built < 2001"
            ).fetchone(),
        )
    )
    city = server.get("/indicators").json()["city"]
    assert city["attested_buildings"] == stored["attested"]
    assert city["buildings_needing_strengthening"] == stored["need"]
    assert city["buildings_strengthened"] == stored["done"]
    assert city["private_houses_pre2001"] == stored["private_old"] > 0
    targets = city["targets"]["buildings_needing_strengthening"]
    assert targets["baseline"] == 7000 and targets["strengthened_2022"] == 239
    assert "attested pre-2001" in targets["source"] and "S2 l.5071" in targets["source"]
    metrics = server.get(
        "/collections/building_metrics/items", params={"f": "json", "limit": 5}
    ).json()
    assert all("stock" in f["properties"] for f in metrics["features"])
