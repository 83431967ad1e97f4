"""The run page's rows endpoint: paging, filters, search, sort, bad queries, run ids.

Through Starlette's TestClient on the store of real runs (test_browser.py drives the
same endpoint from the page, in Chromium, on the real server).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from promptbench.view import create_app
from tests.view.conftest import Store

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store.runs_dir, port=8765), base_url=BASE)


def rows(client: TestClient, run_id: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/runs/{run_id}/rows", params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def ids(answer: dict[str, Any]) -> list[str]:
    return [row["id"] for row in answer["rows"]]


def test_pages_cover_every_row_once_in_case_order(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]
    seen = []
    for offset in range(0, 6, 2):
        answer = rows(client, run, offset=offset, limit=2)
        assert answer["offset"] == offset and answer["total"] == 5 and answer["shown"] == 5
        seen += ids(answer)
        assert [row["i"] for row in answer["rows"]] == list(range(offset, min(offset + 2, 5)))
    assert seen == ["c1", "c2", "c3", "c4", "c5"]
    assert rows(client, run, offset=10)["rows"] == []  # past the end: none, not an error
    one = rows(client, run, limit=1)["rows"][0]
    assert [c["v"] for c in one["c"]] == ["f", "p"]  # terse wrong on c1, polite right


def test_the_page_holds_the_summary_and_only_the_first_rows(
    client: TestClient, store: Store
) -> None:
    text = client.get(f"/runs/{store.run_ids[0]}").text
    raw = re.search(r'<script id="pb-data" type="application/json">(.*?)</script>', text, re.S)
    assert raw is not None
    data = json.loads(raw.group(1))
    assert data["rows"] == [] and data["summary"]["records"] == 10
    assert data["remote"]["api"] == f"/api/runs/{store.run_ids[0]}/rows"
    assert ids(data["remote"]) == ["c1", "c2", "c3", "c4", "c5"]
    assert "connect-src 'self'" in text  # the page's own CSP lets it ask the viewer


def test_modes_count_and_select_as_the_page_did(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]  # terse wrong on c1..c3, polite right everywhere
    answer = rows(client, run, mode="fail")
    assert ids(answer) == ["c1", "c2", "c3"]
    assert answer["counts"] == {"all": 5, "fail": 3, "error": 0, "flip": 3}
    assert ids(rows(client, run, mode="flip")) == ["c1", "c2", "c3"]
    assert ids(rows(client, run, mode="error")) == []
    # Only the polite column: nothing fails, nothing flips.
    polite = rows(client, run, mode="fail", cols="1")
    assert polite["shown"] == 0 and polite["counts"]["flip"] == 0 and polite["cols"] == [1]
    assert rows(client, run, cols="")["shown"] == 0  # no column shown: no row
    # One metric (icontains, index 1) decides the verdict.
    assert rows(client, run, mode="fail", metric=1)["counts"]["fail"] == 3
    # A later run fixed two of the three cases.
    assert ids(rows(client, store.run_ids[1], mode="fail")) == ["c1"]


def test_search_looks_in_ids_vars_and_outputs(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]
    assert ids(rows(client, run, q="c4")) == ["c4"]
    assert ids(rows(client, run, q="NOWHERE")) == ["c1", "c2", "c3"]  # terse's wrong output
    assert ids(rows(client, run, q="nowhere", cols="1")) == []  # not in the polite column
    assert ids(rows(client, run, q="nothing like this")) == []
    assert rows(client, run, q="berlin", mode="fail")["counts"]["all"] == 1


def test_sort_through_the_endpoint_keeps_every_row(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]
    slow = rows(client, run, sort="latency", order="desc")
    assert sorted(ids(slow)) == ["c1", "c2", "c3", "c4", "c5"]
    latencies = [max(c["l"] for c in r["c"] if c and "l" in c) for r in slow["rows"]]
    assert latencies == sorted(latencies, reverse=True)
    assert ids(rows(client, run, sort="case", order="desc")) == ["c5", "c4", "c3", "c2", "c1"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"mode": "everything"}, "mode"),
        ({"sort": "size"}, "sort"),
        ({"order": "up"}, "order"),
        ({"cols": "a,b"}, "cols"),
        ({"cols": "7"}, "cols"),
        ({"metric": "9"}, "metric"),
        ({"metric": "-2"}, "metric"),
        ({"bogus": "1"}, "bogus"),
    ],
)
def test_bad_queries_are_400_with_one_line(
    client: TestClient, store: Store, params: dict[str, str], field: str
) -> None:
    r = client.get(f"/api/runs/{store.run_ids[0]}/rows", params=params)
    assert r.status_code == 400, (params, r.text)
    error = r.json()["error"]
    assert error.startswith(field) and "\n" not in error and "Traceback" not in error


def test_run_ids_are_checked_and_unreadable_runs_said(client: TestClient, store: Store) -> None:
    for path in ("/api/runs/..%2f..%2fetc/rows", "/api/runs/.hidden/rows", "/api/runs/x..y/rows"):
        assert client.get(path).status_code == 404, path
    r = client.get("/api/runs/no-such-run/rows")
    assert r.status_code == 404 and r.json() == {"error": "no such run"}
    for broken in (store.corrupt, store.half_written):
        r = client.get(f"/api/runs/{broken}/rows")
        assert r.status_code == 409 and r.json()["error"].startswith("unreadable"), broken


def test_rows_follow_the_records_file(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]
    assert rows(client, run)["total"] == 5
    records = store.runs_dir / run / "records.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [x for x in lines if '"case_id": "c5"' not in x]
    records.write_text("".join(kept), encoding="utf-8")  # size and mtime change: rebuilt
    assert ids(rows(client, run)) == ["c1", "c2", "c3", "c4"]


def test_ranking_comes_apart(client: TestClient, store: Store) -> None:
    run = store.run_ids[0]
    r = client.get(f"/api/runs/{run}/ranking")
    assert r.status_code == 200
    ranking = r.json()["ranking"]
    assert ranking["metric"] == "pass_rate" and len(ranking["rows"]) == 2
    best = [row["cells"][1] for row in ranking["rows"] if row["best"]]
    assert best == ["polite × scripted"] or "polite" in best[0]
    assert client.get(f"/api/runs/{run}/ranking", params={"x": "1"}).status_code == 400
    assert client.get("/api/runs/nope/ranking").status_code == 404


# --------------------------------------------------------------------------- comparisons


def compare_rows(client: TestClient, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    r = client.get("/api/compare/rows", params=pairs)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_a_comparison_page_fetches_its_rows(client: TestClient, store: Store) -> None:
    a, b = store.run_ids[0], store.run_ids[-1]
    text = client.get("/compare", params=[("run", a), ("run", b)]).text
    raw = re.search(r'<script id="pb-data" type="application/json">(.*?)</script>', text, re.S)
    assert raw is not None
    data = json.loads(raw.group(1))
    assert data["rows"] == [] and data["remote"]["api"] == f"/api/compare/rows?run={a}&run={b}"
    assert data["remote"]["total"] == 10  # 5 cases × 2 pairs (terse, polite)
    run = [("run", a), ("run", b)]
    flips = compare_rows(client, [*run, ("mode", "flip")])
    assert sorted(row["id"] for row in flips["rows"]) == ["c1", "c2", "c3"]
    assert flips["counts"]["imp"] == 3 and flips["counts"]["reg"] == 0
    # The word diff of a row is computed when it is sent: "Nowhere" became the city.
    changed = compare_rows(client, [*run, ("mode", "changed"), ("limit", "1")])["rows"][0]
    assert "dc" not in changed and changed["d"] and changed["a"]["o"] == "Nowhere"
    paged = compare_rows(client, [*run, ("offset", "8"), ("limit", "5")])
    assert len(paged["rows"]) == 2 and paged["offset"] == 8
    one_pair = compare_rows(client, [*run, ("pair", "1")])
    assert {row["p"] for row in one_pair["rows"]} == {1} and one_pair["shown"] == 5
    found = compare_rows(client, [*run, ("q", "nowhere")])
    assert sorted(row["id"] for row in found["rows"]) == ["c1", "c2", "c3"]
    variants = [("run", a), ("variant", "terse"), ("variant", "polite")]
    assert compare_rows(client, [*variants, ("mode", "flip")])["shown"] == 3


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("mode", "x")], 400),
        ([("pair", "9")], 400),
        ([("metric", "7")], 400),
        ([("limit", "0")], 400),
        ([("bogus", "1")], 400),
    ],
)
def test_bad_comparison_queries(
    client: TestClient, store: Store, params: list[tuple[str, str]], status: int
) -> None:
    run = [("run", store.run_ids[0]), ("run", store.run_ids[-1])]
    r = client.get("/api/compare/rows", params=[*run, *params])
    assert r.status_code == status, r.text
    assert "\n" not in r.json()["error"]


def test_comparison_runs_are_checked(client: TestClient, store: Store) -> None:
    a = store.run_ids[0]
    assert client.get("/api/compare/rows").status_code == 400  # no run
    assert client.get("/api/compare/rows", params={"run": a}).status_code == 400  # no variants
    same = [("run", a), ("variant", "terse"), ("variant", "terse")]
    assert client.get("/api/compare/rows", params=same).status_code == 400
    r = client.get("/api/compare/rows", params=[("run", a), ("run", "../etc")])
    assert r.status_code == 404
    r = client.get("/api/compare/rows", params=[("run", a), ("run", store.corrupt)])
    assert r.status_code == 409
