"""The viewer on a real uvicorn server (``promptbench view`` in a child process), in Chromium.

Navigation from the runs to a suite's history to a run, the history chart, choosing
two runs (and two variants) in the page and reading the diff, and a run in progress
followed live until its report appears. A screenshot of each page goes to
``test-artifacts/``. Without the browser these tests skip, except in CI.
"""

from __future__ import annotations

import http.client
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from promptbench.testing import browser as chromium_helper
from tests.cli.test_subprocess import env, promptbench
from tests.helpers.project import Project
from tests.helpers.synthetic_runs import write_synthetic_run
from tests.view.conftest import Store, make_store, weather_suite

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    why = chromium_helper.missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser for the viewer tests: {why}")
        pytest.skip(f"no headless browser: {why}")
    with chromium_helper.chromium() as driver:
        yield driver


class Viewer:
    """``promptbench view --port 0`` in the background; ``url`` once it serves."""

    def __init__(self, runs_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [*promptbench(), "view", "--runs-dir", str(runs_dir), "--port", "0"],
            env=env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        threading.Thread(target=lambda: [lines.put(x) for x in stderr], daemon=True).start()
        line = lines.get(timeout=60)
        assert line.startswith("promptbench view: http://127.0.0.1:"), line
        self.url = line.split()[2].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def viewer(store: Store) -> Iterator[Viewer]:
    v = Viewer(store.runs_dir)
    yield v
    v.stop()


def shot(driver: WebDriver, name: str) -> None:
    path = chromium_helper.screenshot_full(driver, ARTIFACTS / name)
    driver.set_window_size(1400, 1000)
    assert path.stat().st_size > 5000
    print(f"screenshot: {path}")


def no_console_errors(driver: WebDriver) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def wait_for(driver: WebDriver, script: str, timeout: float = 20) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def page_kind(driver: WebDriver) -> str:
    kind: str = driver.execute_script(
        "return document.body.dataset.page || document.body.className"
    )
    return kind


def report_ready(driver: WebDriver) -> None:
    wait_for(driver, "return document.body.dataset.ready === '1'")


def test_navigate_chart_and_compare(browser: WebDriver, viewer: Viewer, store: Store) -> None:
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.set_window_size(1400, 1000)
    browser.get(viewer.url + "/")
    assert page_kind(browser) == "runs"
    rows = browser.find_elements("css selector", "#runs tr.run")
    assert len(rows) == 5
    assert (
        browser.find_element(
            "css selector", f"tr[data-run='{store.corrupt}'] .status-unreadable"
        ).text
        == "unreadable"
    )
    no_console_errors(browser)
    shot(browser, "view-runs.png")

    # Sort by started, oldest first, by clicking the column head (twice: desc, then asc).
    # Each click loads a new page: wait for the old table to go before reading the new one.
    table = browser.find_element("id", "runs")
    browser.find_element("css selector", "a[data-sort='started']").click()
    WebDriverWait(browser, 20).until(staleness_of(table))
    order = [r.get_attribute("data-run") for r in browser.find_elements("css selector", "tr.run")]
    readable = [r for r in order if r in store.run_ids]
    assert readable == store.run_ids  # clicked once: the order flips to ascending
    # Filter to one status in the form.
    Select(browser.find_element("id", "filter-status")).select_by_visible_text("unreadable")
    table = browser.find_element("id", "runs")
    browser.find_element("id", "apply").click()
    WebDriverWait(browser, 20).until(staleness_of(table))
    shown = {r.get_attribute("data-run") for r in browser.find_elements("css selector", "tr.run")}
    assert shown == {store.corrupt, store.half_written}

    # The suite's history: one chart per measure, a line per variant × model, the gate.
    browser.get(viewer.url + "/")
    browser.find_element(
        "css selector", f"tr[data-run='{store.run_ids[0]}'] td a[href^='/suites/']"
    ).click()
    assert page_kind(browser) == "history"
    charts = browser.find_elements("css selector", "svg.history-chart")
    assert [c.get_attribute("data-measure") for c in charts] == ["pass_rate", "exact", "icontains"]
    exact = charts[1]
    line = exact.find_element("css selector", "line.gate-threshold")
    assert line.get_attribute("data-threshold") == "0.6"
    terse = exact.find_elements("css selector", "circle.point[data-series='terse × scripted']")
    values = [float(p.get_attribute("data-value")) for p in terse]
    assert values == [0.4, 0.8, 1.0]
    # Higher values are drawn higher, and the threshold between 0.4 and 0.8.
    ys = [float(p.get_attribute("cy")) for p in terse]
    assert ys[0] > float(line.get_attribute("y1")) > ys[1] > ys[2]
    assert (
        browser.execute_script(
            "return document.querySelector('polyline.series').getBoundingClientRect().width"
        )
        > 300
    )
    no_console_errors(browser)
    shot(browser, "view-history.png")

    # A point is a link to its run, whose report draws itself.
    browser.execute_script(
        "arguments[0].parentNode.dispatchEvent(new MouseEvent('click', {bubbles: true}))", terse[-1]
    )
    report_ready(browser)
    assert browser.current_url.endswith(f"/runs/{store.run_ids[-1]}")
    assert "kind-run" in page_kind(browser)
    no_console_errors(browser)
    shot(browser, "view-run.png")

    # Back to the runs by the bar, choose the oldest and the newest, compare.
    browser.find_element("css selector", "nav.pb-viewer a[data-nav='Runs']").click()
    assert page_kind(browser) == "runs"
    for run_id in (store.run_ids[0], store.run_ids[-1]):
        browser.find_element("css selector", f"input[name='run'][value='{run_id}']").click()
    browser.find_element("id", "compare-chosen").click()
    report_ready(browser)
    assert "kind-diff" in page_kind(browser)
    flips = browser.execute_script(
        "return [...document.querySelectorAll('#rows tr.row')]"
        ".filter(r => r.dataset.flip).map(r => r.dataset.id)"
    )
    assert sorted(flips) == ["c1", "c2", "c3"]  # terse fixed three cases
    assert browser.find_elements("css selector", "table.stats tr[data-metric='exact']")
    no_console_errors(browser)
    shot(browser, "view-diff.png")

    # Two variants of one run, chosen on the compare page.
    browser.find_element("css selector", "nav.pb-viewer a[data-nav='Compare']").click()
    assert page_kind(browser) == "compare"
    Select(browser.find_element("id", "run-one")).select_by_value(store.run_ids[0])
    choose = browser.find_element("id", "choose-run")
    choose.click()
    WebDriverWait(browser, 20).until(staleness_of(choose))  # the new page, not the old one
    Select(browser.find_element("id", "variant-a")).select_by_visible_text("terse")
    Select(browser.find_element("id", "variant-b")).select_by_visible_text("polite")
    shot(browser, "view-compare.png")
    browser.find_element("id", "compare-variants").click()
    report_ready(browser)
    flips = browser.execute_script(
        "return [...document.querySelectorAll('#rows tr.row')].filter(r => r.dataset.flip).length"
    )
    assert flips == 3  # polite right where terse was wrong
    no_console_errors(browser)

    # An unreadable run has its own page, and the rest still works.
    browser.get(f"{viewer.url}/runs/{store.corrupt}")
    assert page_kind(browser) == "unreadable"
    assert "unreadable" in browser.find_element("id", "problem").text
    shot(browser, "view-unreadable.png")


def test_a_run_in_progress_updates_live(browser: WebDriver, project: Project) -> None:
    store = make_store(project, wrongs=(2,))
    suite = weather_suite(0)
    suite["models"]["scripted"]["latency_ms"] = 250
    suite["cases"] = [{"id": f"x{i}", "q": f"x{i}", "expected": "x"} for i in range(24)]
    suite["concurrency"] = 1
    path = project.write("suites/slow.yaml", yaml.safe_dump(suite))
    viewer = Viewer(store.runs_dir)
    before = set(os.listdir(store.runs_dir))
    run = subprocess.Popen(
        [*promptbench(), "run", str(path), "-q", "--no-cache"],
        cwd=project.root,
        env=env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        new: set[str] = set()
        while not new and time.monotonic() < deadline:
            new = {
                n
                for n in set(os.listdir(store.runs_dir)) - before
                if (store.runs_dir / n / "run.json").is_file()
            }
            time.sleep(0.1)
        (run_id,) = new
        browser.get(f"{viewer.url}/runs/{run_id}")
        assert page_kind(browser) == "live"
        first = int(browser.find_element("id", "live-records").text)
        wait_for(browser, "return Number(document.getElementById('live').dataset.polls) >= 2")
        wait_for(
            browser, f"return Number(document.getElementById('live-records').textContent) > {first}"
        )
        rows = browser.find_elements("css selector", "#live-groups tr")
        assert {r.find_elements("css selector", "td")[0].text for r in rows} <= {"terse", "polite"}
        no_console_errors(browser)
        shot(browser, "view-live.png")
        # When the run ends the page turns into its report by itself.
        wait_for(browser, "return document.body.dataset.ready === '1'", timeout=60)
        assert "kind-run" in page_kind(browser)
        assert run.wait(timeout=30) == 1  # it finished; the echoed answers fail its gate
    finally:
        if run.poll() is None:
            run.kill()
        viewer.stop()


def test_real_server_refuses_foreign_hosts_and_dot_segments(viewer: Viewer) -> None:
    def get(path: str, host: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=10)
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        status = conn.getresponse().status
        conn.close()
        return status

    here = f"127.0.0.1:{viewer.port}"
    assert get("/", here) == 200
    assert get("/", f"rebind.example:{viewer.port}") == 421
    assert get("/runs/../../etc/passwd", here) == 404
    assert get("/runs/..", here) == 404


def test_a_large_run_page_fetches_its_rows_as_they_come_into_view(
    browser: WebDriver, project: Project
) -> None:
    """250 cases, two variants: the page holds 100 rows; the rest, the filters and the
    search are the viewer's answers, fetched from the page."""
    cases = [
        {"id": f"c{i}", "q": f"w{i}", "expected": f"w{i}" if i % 3 else "other"}
        for i in range(1, 251)
    ]
    suite = {
        "name": "paged",
        "prompts": {"echo": "{{ q }}", "chatty": "say {{ q }}"},
        "models": {"scripted": {"provider": "mock"}},
        "cases": cases,
        "metrics": [{"exact": {}}],
    }
    result = promptbench_run(project, suite)
    assert result in (0, 1)
    run_id = project.runs[-1].name
    viewer = Viewer(project.root / "runs")
    try:
        browser.set_window_size(1400, 1000)
        browser.get(f"{viewer.url}/runs/{run_id}")
        report_ready(browser)
        count = browser.find_element("id", "count")
        assert count.get_attribute("data-shown") == "250"
        data_rows = browser.execute_script("return window.promptbench.data.rows.length")
        assert data_rows == 0  # the page carries none of its own: the first 100 came apart
        assert browser.execute_script("return window.promptbench.rendered()") <= 150
        # To the end: the last rows are fetched, then drawn.
        # Measured heights move the end as rows arrive: scroll again until it stays.
        wait_for(
            browser,
            "window.scrollTo(0, document.documentElement.scrollHeight);"
            "return !!document.querySelector(\"#rows tr.row[data-id='c250']\")",
        )
        # Flipped: echo right, chatty wrong, where expected is the word (i % 3 != 0).
        done = int(browser.execute_script("return Number(document.body.dataset.filtered)"))
        browser.find_element("css selector", ".seg button[data-mode='flip']").click()
        wait_for(browser, f"return Number(document.body.dataset.filtered) > {done}")
        assert count.get_attribute("data-shown") == str(250 - 83)
        first = browser.find_element("css selector", "#rows tr.row").get_attribute("data-id")
        assert first == "c1"
        # A search, answered by the viewer.
        done = int(browser.execute_script("return Number(document.body.dataset.filtered)"))
        browser.find_element("id", "search").send_keys("w250")
        wait_for(browser, f"return Number(document.body.dataset.filtered) > {done}")
        assert count.get_attribute("data-shown") == "1"
        ids = browser.execute_script(
            "return [...document.querySelectorAll('#rows tr.row')].map(r => r.dataset.id)"
        )
        assert ids == ["c250"]  # a flipped case (250 % 3 != 0)
        # The ranking arrives after the page.
        wait_for(browser, "return document.body.dataset.ranked === '1'")
        assert browser.find_elements("css selector", "table#ranking tr")
        no_console_errors(browser)
        shot(browser, "view-run-paged.png")

        # Its two variants compared: the diff page fetches its cases the same way.
        browser.get(f"{viewer.url}/compare?run={run_id}&variant=echo&variant=chatty")
        report_ready(browser)
        assert "kind-diff" in page_kind(browser)
        assert browser.execute_script("return window.promptbench.data.rows.length") == 0
        wait_for(
            browser,
            "window.scrollTo(0, document.documentElement.scrollHeight);"
            "return !!document.querySelector(\"#rows tr.row[data-id='c250']\")",
        )
        done = int(browser.execute_script("return Number(document.body.dataset.filtered)"))
        browser.find_element("css selector", ".seg button[data-mode='reg']").click()
        wait_for(browser, f"return Number(document.body.dataset.filtered) > {done}")
        count = browser.find_element("id", "count")
        assert count.get_attribute("data-shown") == str(250 - 83)  # echo passes, chatty not
        flips = browser.execute_script(
            "return [...document.querySelectorAll('#rows tr.row')].map(r => r.dataset.flip)"
        )
        assert flips and set(flips) == {"r"}
        # The changed words are marked in the rows the viewer sent.
        assert browser.find_elements("css selector", "#rows tr.row ins")
        no_console_errors(browser)
    finally:
        viewer.stop()


def promptbench_run(project: Project, suite: dict[str, object]) -> int:
    path = project.write("suites/paged.yaml", yaml.safe_dump(suite))
    done = subprocess.run(
        [*promptbench(), "run", str(path), "-q", "--no-cache"],
        cwd=project.root,
        env=env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,  # the exit code is the caller's to judge
    )
    return done.returncode


def test_a_jump_to_the_end_of_a_large_run_fetches_only_the_last_page(
    browser: WebDriver, project: Project
) -> None:
    """5,000 cases: a scroll to the end asks the viewer for the page it lands on, once.

    The rows above the window are drawn at an estimated height, which moves as rows are
    measured; the page must keep the window where it landed rather than drift onto the
    rows in between (each a page fetched for nothing). Read from the page's own count of
    rows requests."""
    runs_dir = project.root / "runs"
    write_synthetic_run(runs_dir, "synthetic-big", 5000, seed=1)
    viewer = Viewer(runs_dir)
    try:
        browser.set_window_size(1400, 1000)
        browser.get(f"{viewer.url}/runs/synthetic-big")
        report_ready(browser)
        shown = int(browser.find_element("id", "count").get_attribute("data-shown") or 0)
        assert shown > 4000
        requests = "return Number(document.body.dataset.rowRequests || 0)"
        assert browser.execute_script(requests) == 0  # the first rows came with the page
        wait_for(
            browser,
            "window.scrollTo(0, document.documentElement.scrollHeight);"
            "return !!document.querySelector(\"#rows tr.row[data-id='q4999']\")",
        )
        time.sleep(0.5)  # let any stray page arrive (none should have been asked for)
        assert browser.execute_script(requests) == 1
        drawn = browser.execute_script(
            "return [...document.querySelectorAll('#rows tr.row')].map(r => Number(r.dataset.i))"
        )
        assert drawn[-1] == shown - 1
        assert len(drawn) <= 150
        assert not browser.find_elements("css selector", "#rows tr.row.pending")

        # A drag of the scrollbar down the run, a frame or two per step: the pages of the
        # rows passed over are not fetched, only those where the scrolling stops.
        browser.get(f"{viewer.url}/runs/synthetic-big")
        report_ready(browser)
        browser.execute_async_script(DRAG)
        wait_for(browser, "return !document.querySelector('#rows tr.row.pending')")
        # 24 steps, a window a page or two: 25+ requests without the wait, 2-4 with it (the
        # first step's, the last's), 4-6 measured at a load of 4 on 2 CPUs: a step the load
        # delays past the quiet time adds a page or two. The bound keeps room for that.
        assert browser.execute_script(requests) <= 12
        assert browser.find_elements("css selector", "#rows tr.row")
        no_console_errors(browser)
    finally:
        viewer.stop()


DRAG = """
const done = arguments[arguments.length - 1];
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
(async () => {
  for (let k = 1; k <= 24; k++) {
    scrollTo(0, (document.documentElement.scrollHeight * k) / 26);
    await frame();
    await frame();
  }
  done();
})();
"""
