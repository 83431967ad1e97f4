"""The viewer's HTTP rules and pages, through Starlette's TestClient (no socket).

The end-to-end tests (test_browser.py) drive the same app on a real uvicorn server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from promptbench.view import create_app
from promptbench.view.index import RunIndex, valid_run_id
from tests.view.conftest import Store

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store.runs_dir, port=PORT), base_url=BASE)


def snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in path.rglob("*") if p.is_file()
    }


def test_runs_page_lists_every_run_and_the_unreadable_ones(
    client: TestClient, store: Store
) -> None:
    r = client.get("/")
    assert r.status_code == 200
    for run_id in store.run_ids:
        assert f'data-run="{run_id}"' in r.text
    for broken in (store.corrupt, store.half_written):
        assert re.search(rf'data-run="{broken}" data-status="unreadable"', r.text), broken
    assert "no run.json" in r.text


def test_filters_sort_and_pages(client: TestClient, store: Store) -> None:
    finished = client.get("/", params={"status": "finished"}).text
    assert all(f'data-run="{i}"' in finished for i in store.run_ids)
    assert store.corrupt not in finished
    assert "capitals-" in client.get("/", params={"model": "scripted"}).text
    assert 'data-total="0"' in client.get("/", params={"suite": "nope"}).text
    asc = client.get("/", params={"sort": "started", "order": "asc", "status": "finished"}).text
    order = re.findall(r'<tr class="run" data-run="([^"]+)"', asc)
    assert order == store.run_ids
    page2 = client.get("/", params={"per": 2, "page": 2, "status": "finished"}).text
    assert re.findall(r'<tr class="run" data-run="([^"]+)"', page2) == [store.run_ids[0]]
    assert 'data-pages="2"' in page2


def test_bad_queries_are_refused_with_one_line(client: TestClient) -> None:
    for params in ({"sort": "x"}, {"page": "0"}, {"per": "100000"}, {"bogus": "1"}):
        r = client.get("/", params=params)
        assert r.status_code == 400, params
        assert "Traceback" not in r.text


def test_history_page_charts_each_measure_with_the_gate(client: TestClient, store: Store) -> None:
    r = client.get("/suites/capitals")
    assert r.status_code == 200
    assert r.text.count('<svg class="history-chart"') == 3  # pass rate, exact, icontains
    exact = r.text.split('data-measure="exact"')[1].split("</svg>")[0]
    assert 'class="gate-threshold" data-threshold="0.6"' in exact
    # terse got better: 2/5, 4/5, 5/5 right.
    terse = re.findall(
        r'data-series="terse × scripted" data-run="[^"]+" data-value="([^"]+)"', exact
    )
    assert [float(v) for v in terse] == [0.4, 0.8, 1.0]
    assert client.get("/suites/nothing").status_code == 404


def test_run_page_is_the_report(client: TestClient, store: Store) -> None:
    r = client.get(f"/runs/{store.run_ids[-1]}")
    assert r.status_code == 200
    assert 'id="pb-data"' in r.text and 'class="pb-viewer"' in r.text


def test_broken_runs_are_shown_as_unreadable(client: TestClient, store: Store) -> None:
    for broken in (store.corrupt, store.half_written):
        r = client.get(f"/runs/{broken}")
        assert r.status_code == 200
        assert "This run is unreadable" in r.text
    assert client.get("/").status_code == 200
    assert client.get("/suites/capitals").status_code == 200
    # Corrupt records (a valid run.json): the run is unreadable, its history row says so.
    bad = store.runs_dir / store.run_ids[1] / "records.jsonl"
    bad.write_text("{not json}\n", encoding="utf-8")
    assert "This run is unreadable" in client.get(f"/runs/{store.run_ids[1]}").text
    assert "unreadable:" in client.get("/suites/capitals").text


def test_compare_two_runs_and_two_variants(client: TestClient, store: Store) -> None:
    a, b = store.run_ids[0], store.run_ids[-1]
    r = client.get("/compare", params=[("run", a), ("run", b)])
    assert r.status_code == 200 and "kind-diff" in r.text
    r = client.get("/compare", params=[("run", b), ("variant", "terse"), ("variant", "polite")])
    assert r.status_code == 200 and "kind-diff" in r.text
    chooser = client.get("/compare", params={"run": b})
    assert 'id="variant-a"' in chooser.text
    same = client.get("/compare", params=[("run", b), ("variant", "terse"), ("variant", "terse")])
    assert same.status_code == 400 and "with itself" in same.text


@pytest.mark.parametrize(
    "path",
    [
        "/runs/%2e%2e",
        "/runs/%2e%2e/%2e%2e/etc/passwd",
        "/runs/..%2f..%2fetc",
        "/runs/%2Fetc%2Fpasswd",
        "/runs/.hidden",
        "/api/runs/..%2f/progress",
        "/suites/..%2f..",
    ],
)
def test_traversal_is_refused(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.text[:200])
    assert "root:" not in r.text


def test_compare_refuses_ids_that_are_paths(client: TestClient) -> None:
    r = client.get("/compare", params=[("run", "../runs"), ("run", "/etc")])
    assert r.status_code == 404


def test_run_ids_are_checked() -> None:
    assert valid_run_id("20261201-224321-e2e-356c")
    for bad in ("", ".", "..", "a/b", "a\\b", "../x", "x..y", "-x", "a" * 300, "a\x00"):
        assert not valid_run_id(bad), bad
    assert RunIndex(Path("/nonexistent")).get("..") is None


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "127.0.0.1:80", "127.0.0.1", "127.0.0.1.evil.example:8765", ""]
)
def test_foreign_host_headers_are_refused(client: TestClient, host: str) -> None:
    r = client.get("/", headers={"host": host})
    assert r.status_code == 421
    assert "content-security-policy" in r.headers


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LOCALHOST:8765"])
def test_the_served_address_is_accepted(client: TestClient, host: str) -> None:
    assert client.get("/", headers={"host": host}).status_code == 200


def test_read_only(client: TestClient, store: Store) -> None:
    before = snapshot(store.runs_dir)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = client.request(method, f"/runs/{store.run_ids[0]}")
        assert r.status_code == 405, method
    for path in ("/", "/suites/capitals", f"/runs/{store.run_ids[0]}", "/compare"):
        client.get(path)
    client.get("/compare", params=[("run", store.run_ids[0]), ("run", store.run_ids[1])])
    assert snapshot(store.runs_dir) == before


def test_every_response_has_the_security_headers(client: TestClient, store: Store) -> None:
    for path in ("/", "/suites/capitals", f"/runs/{store.run_ids[0]}", "/nope", "/runs/.."):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_progress_api(client: TestClient, store: Store) -> None:
    r = client.get(f"/api/runs/{store.run_ids[0]}/progress")
    data = r.json()
    assert data["status"] == "finished" and data["records"] == 10
    assert {g["variant"] for g in data["groups"]} == {"terse", "polite"}


def test_view_command_refuses_a_missing_runs_dir(tmp_path: Path) -> None:
    from tests.helpers.e2e import invoke, no_traceback

    result = invoke("view", "--runs-dir", str(tmp_path / "nowhere"))
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no runs directory" in result.stderr
