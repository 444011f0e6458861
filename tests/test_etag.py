"""Two editors on one plot: what each read carries (ETag "v<version>") lets every edit say which
version it was made from, so a stale edit is refused (412) instead of silently overwriting
the other editor's work, and a server can insist on it (428)."""

from __future__ import annotations

import threading

import httpx
import pytest

from conftest import Server
from test_editing import add_user, plot, write

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def editor(demo_city) -> str:
    """An editor of plots, in the demo city (loaded before any plot here is made, so the city's
    plots keep the ids other tests name)."""
    return add_user("editor", "plots")


def create_plot(server, key: str, **properties) -> str:
    created = write(server, "POST", "/collections/plots/items", key, plot(**properties))
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"v1"'
    return created.headers["Location"].removeprefix(server.url)


def patch(
    server,
    path: str,
    key: str,
    properties: dict,
    if_match: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    headers = {"X-API-Key": key, **MERGE_PATCH} | ({"If-Match": if_match} if if_match else {})
    send = client or httpx
    return send.request(
        "PATCH", f"{server.url}{path}", json={"properties": properties}, headers=headers, timeout=60
    )


def test_every_read_of_a_plot_carries_its_version(server, editor):
    path = create_plot(server, editor)
    for params in ({}, {"f": "json"}, {"f": "geojson"}, {"f": "html"}, {"f": "jsonld"}):
        read = server.get(path, params=params)
        assert read.status_code == 200, (params, read.text)
        assert read.headers["ETag"] == '"v1"', params
    head = httpx.head(f"{server.url}{path}", timeout=60)
    assert head.status_code == 200 and head.headers["ETag"] == '"v1"'


def test_an_edit_made_from_a_read_succeeds_and_answers_the_next_version(server, editor):
    path = create_plot(server, editor, residents=10)
    tag = server.get(path).headers["ETag"]
    edited = patch(server, path, editor, {"residents": 11}, if_match=tag)
    assert edited.status_code == 200, edited.text
    assert edited.headers["ETag"] == '"v2"'
    again = server.get(path)
    assert again.headers["ETag"] == '"v2"'
    assert again.json()["properties"]["residents"] == 11
    replaced = write(server, "PUT", path, editor, plot(residents=12), {"If-Match": '"v2"'})
    assert replaced.status_code == 200 and replaced.headers["ETag"] == '"v3"'
    deleted = write(server, "DELETE", path, editor, headers={"If-Match": '"v3"'})
    assert deleted.status_code == 204 and deleted.headers["ETag"] == '"v4"'


def test_an_edit_from_a_stale_read_is_refused_and_changes_nothing(server, editor):
    path = create_plot(server, editor, residents=20)
    stale = server.get(path).headers["ETag"]
    assert patch(server, path, editor, {"residents": 21}, if_match=stale).status_code == 200
    for method, body in (
        ("PATCH", {"properties": {"residents": 99}}),
        ("PUT", plot(residents=99)),
        ("DELETE", None),
    ):
        refused = write(
            server,
            method,
            path,
            editor,
            body,
            {"If-Match": stale, **(MERGE_PATCH if method == "PATCH" else {})},
        )
        assert refused.status_code == 412, (method, refused.text)
        problem = refused.json()
        assert problem["code"] == "PreconditionFailed"
        assert '"v2"' in problem["description"] and stale in problem["description"]
        assert refused.headers["ETag"] == '"v2"'  # where the feature is now
    now = server.get(path)
    assert now.status_code == 200 and now.headers["ETag"] == '"v2"'
    assert now.json()["properties"]["residents"] == 21
    # If-Match: * says "whatever version it is at"; a garbled tag matches nothing
    assert patch(server, path, editor, {"residents": 22}, if_match="v-garbage").status_code == 412
    assert patch(server, path, editor, {"residents": 23}, if_match="*").status_code == 200


def test_two_editors_racing_on_one_version_never_lose_an_update(server, editor):
    """Both read the same version and send their change at the same instant with it: one
    wins, the other is told (412), every round; the winner's value is what is stored."""
    path = create_plot(server, editor, residents=0)
    rounds = 10
    with httpx.Client(timeout=60) as first, httpx.Client(timeout=60) as second:
        for client in (first, second):
            assert client.get(f"{server.url}{path}").status_code == 200  # connections warm
        for round_ in range(rounds):
            tag = server.get(path).headers["ETag"]
            barrier = threading.Barrier(2)
            answers: dict[int, httpx.Response] = {}

            def edit(
                number: int,
                client: httpx.Client,
                round_: int = round_,
                tag: str = tag,
                barrier: threading.Barrier = barrier,
                answers: dict[int, httpx.Response] = answers,
            ) -> None:
                barrier.wait()
                answers[number] = patch(
                    server,
                    path,
                    editor,
                    {"residents": 1000 * (round_ + 1) + number},
                    if_match=tag,
                    client=client,
                )

            threads = [
                threading.Thread(target=edit, args=(n, c)) for n, c in ((1, first), (2, second))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            statuses = sorted(answer.status_code for answer in answers.values())
            assert statuses == [200, 412], (round_, [a.text for a in answers.values()])
            winner = next(n for n, a in answers.items() if a.status_code == 200)
            stored = server.get(path)
            assert stored.json()["properties"]["residents"] == 1000 * (round_ + 1) + winner
            assert stored.headers["ETag"] == f'"v{round_ + 2}"'  # one new version per round
    versions = server.get(f"{path}/history").json()["versions"]
    assert len(versions) == rounds + 1


def test_a_reader_with_the_current_version_is_told_nothing_changed(server, editor):
    path = create_plot(server, editor)
    first = server.get(path)
    same = server.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["ETag"] == first.headers["ETag"]
    html = server.get(path, params={"f": "html"}, headers={"If-None-Match": '"v1"'})
    assert html.status_code == 304
    assert patch(server, path, editor, {"residents": 5}, if_match='"v1"').status_code == 200
    changed = server.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"v2"'


def restore(
    server,
    path: str,
    version: int,
    key: str,
    if_match: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    headers = {"X-API-Key": key} | ({"If-Match": if_match} if if_match else {})
    return (client or httpx).request(
        "POST", f"{server.url}{path}/history/{version}/restore", headers=headers, timeout=60
    )


def test_bringing_back_an_old_version_is_an_edit_made_from_a_read(server, editor):
    """Restore is a write like PATCH: from a stale read it is refused and changes nothing."""
    path = create_plot(server, editor, residents=30)
    assert patch(server, path, editor, {"residents": 31}, if_match='"v1"').status_code == 200
    stale = restore(server, path, 1, editor, if_match='"v1"')
    assert stale.status_code == 412, stale.text
    assert stale.json()["code"] == "PreconditionFailed"
    assert stale.headers["ETag"] == '"v2"' and '"v2"' in stale.json()["description"]
    kept = server.get(path)
    assert kept.headers["ETag"] == '"v2"' and kept.json()["properties"]["residents"] == 31
    assert len(server.get(f"{path}/history").json()["versions"]) == 2  # nothing written
    fresh = restore(server, path, 1, editor, if_match=kept.headers["ETag"])
    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["ETag"] == '"v3"' and fresh.json()["properties"]["residents"] == 30
    assert server.get(path).headers["ETag"] == '"v3"'
    blind = restore(server, path, 2, editor)  # no If-Match: allowed unless the server insists
    assert blind.status_code == 200 and blind.headers["ETag"] == '"v4"'
    assert restore(server, path, 1, editor, if_match="*").headers["ETag"] == '"v5"'


def test_a_deleted_plot_is_restored_only_from_its_deletion(server, editor):
    """A deleted plot has no read to take a tag from: its deletion's ETag is the one to send."""
    path = create_plot(server, editor, residents=40)
    assert patch(server, path, editor, {"residents": 41}).status_code == 200
    deleted = write(server, "DELETE", path, editor, headers={"If-Match": '"v2"'})
    assert deleted.status_code == 204 and deleted.headers["ETag"] == '"v3"'
    stale = restore(server, path, 1, editor, if_match='"v2"')
    assert stale.status_code == 412 and stale.headers["ETag"] == '"v3"', stale.text
    assert server.get(path).status_code == 404  # still deleted
    back = restore(server, path, 1, editor, if_match=deleted.headers["ETag"])
    assert back.status_code == 201, back.text
    assert back.headers["ETag"] == '"v4"' and back.json()["properties"]["residents"] == 40
    assert server.get(path).headers["ETag"] == '"v4"'


@pytest.mark.parametrize("deleted", [False, True], ids=["existing", "deleted"])
def test_two_editors_restoring_from_one_version_at_once(server, editor, deleted):
    """The restore's check is atomic with its write, for a deleted plot too (it has no row to
    lock): of two restores sent with the same If-Match, one is made and the other told."""
    path = create_plot(server, editor, residents=50)
    assert patch(server, path, editor, {"residents": 51}).status_code == 200
    tag = '"v2"'
    if deleted:
        removed = write(server, "DELETE", path, editor)
        assert removed.status_code == 204
        tag = removed.headers["ETag"]
    rounds = 5
    with httpx.Client(timeout=60) as first, httpx.Client(timeout=60) as second:
        for round_ in range(rounds):
            if round_ or not deleted:  # each round starts from a state neither restore repeats
                tag = patch(server, path, editor, {"residents": 1000 + round_}).headers["ETag"]
            barrier = threading.Barrier(2)
            answers: dict[int, httpx.Response] = {}

            def send(
                number: int,
                client: httpx.Client,
                tag: str = tag,
                barrier: threading.Barrier = barrier,
                answers: dict[int, httpx.Response] = answers,
            ) -> None:
                barrier.wait()
                answers[number] = restore(server, path, number, editor, if_match=tag, client=client)

            threads = [
                threading.Thread(target=send, args=(n, c)) for n, c in ((1, first), (2, second))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            made = 201 if deleted and round_ == 0 else 200  # 201: the plot was re-created
            statuses = sorted(a.status_code for a in answers.values())
            assert statuses == sorted([made, 412]), (round_, [a.text for a in answers.values()])
            winner = next(n for n, a in answers.items() if a.status_code != 412)
            stored = server.get(path)
            assert stored.json()["properties"]["residents"] == 50 + winner - 1
            assert stored.headers["ETag"] == answers[winner].headers["ETag"]
            loser = answers[3 - winner]
            assert loser.headers["ETag"] == answers[winner].headers["ETag"]
    versions = server.get(f"{path}/history").json()["versions"]
    restores = [v for v in versions if v["operation"] == "restore"]
    assert len(restores) == rounds  # one per round, never two


def test_a_server_can_require_if_match_on_every_edit(database_url, editor):
    strict = Server(extra_env={"TWIN_REQUIRE_IF_MATCH": "1"})
    try:
        path = create_plot(strict, editor, residents=1)  # creating needs no If-Match
        blind = patch(strict, path, editor, {"residents": 2})
        assert blind.status_code == 428, blind.text
        assert blind.json()["code"] == "PreconditionRequired"
        assert "If-Match" in blind.json()["description"]
        for method, body in (("PUT", plot(residents=2)), ("DELETE", None)):
            assert write(strict, method, path, editor, body).status_code == 428, method
        kept = strict.get(path)
        assert kept.status_code == 200 and kept.json()["properties"]["residents"] == 1
        assert kept.headers["ETag"] == '"v1"'
        informed = patch(strict, path, editor, {"residents": 2}, if_match=kept.headers["ETag"])
        assert informed.status_code == 200 and informed.headers["ETag"] == '"v2"'
        # bringing back version 1 is an edit too
        blind_restore = restore(strict, path, 1, editor)
        assert blind_restore.status_code == 428, blind_restore.text
        assert "If-Match" in blind_restore.json()["description"]
        assert strict.get(path).json()["properties"]["residents"] == 2
        assert restore(strict, path, 1, editor, if_match='"v1"').status_code == 412
        restored = restore(strict, path, 1, editor, if_match='"v2"')
        assert restored.status_code == 200 and restored.headers["ETag"] == '"v3"'
        assert strict.get(path).json()["properties"]["residents"] == 1
    finally:
        strict.stop()


def test_a_district_read_says_which_data_it_is_and_moves_when_the_layer_changes(
    demo_city, server, db
):
    """Districts are read-only (no history per feature): their tag is the layer's data version,
    so a cached district is revalidated cheaply and never kept after the layer changed."""
    path = "/collections/districts/items/1"
    first = server.get(path)
    assert first.status_code == 200, first.text
    tag = first.headers["ETag"]
    assert tag.startswith('"L') and tag.endswith('"'), tag
    for params in ({"f": "json"}, {"f": "html"}, {"f": "jsonld"}):
        assert server.get(path, params=params).headers["ETag"] == tag, params
    assert httpx.head(f"{server.url}{path}", timeout=60).headers["ETag"] == tag
    for params in ({}, {"f": "html"}):
        same = server.get(path, params=params, headers={"If-None-Match": tag})
        assert same.status_code == 304 and same.content == b"", params
        assert same.headers["ETag"] == tag
    population = first.json()["properties"]["population"]
    try:
        db.execute("UPDATE districts SET population = population + 1 WHERE id = 1")
        changed = server.get(path, headers={"If-None-Match": tag})
        assert changed.status_code == 200, changed.text
        assert changed.json()["properties"]["population"] == population + 1
        assert changed.headers["ETag"] != tag
        html = server.get(path, params={"f": "html"}, headers={"If-None-Match": tag})
        assert html.status_code == 200 and html.headers["ETag"] == changed.headers["ETag"]
        db.execute("UPDATE districts SET population = population + 1 WHERE id = 2")
        # another district changed: the tag moves (it names the layer's data), never stays
        assert server.get(path).headers["ETag"] not in (tag, changed.headers["ETag"])
    finally:
        db.execute("UPDATE districts SET population = population - 1 WHERE id IN (1, 2)")
    assert server.get("/collections/districts/items/999999").status_code == 404


def test_analysis_results_and_reference_layers_carry_the_layer_s_tag_too(demo_city, server):
    checked = []
    for name in ("plot_metrics", "district_indicators", "seismic_zones", "streets"):
        page = server.get(f"/collections/{name}/items", params={"limit": 1}).json()
        if not page.get("features"):
            continue  # not computed in this session's city
        checked.append(name)
        path = f"/collections/{name}/items/{page['features'][0]['id']}"
        read = server.get(path)
        assert read.status_code == 200 and read.headers["ETag"].startswith('"L'), name
        assert (
            server.get(path, headers={"If-None-Match": read.headers["ETag"]}).status_code == 304
        ), name
    assert len(checked) >= 2, checked
