"""The HTML report, opened in a real browser: Debian's headless Chromium, driven by Selenium.

Runs are made for real (the ``mock`` provider's scripted answers, through the CLI); the
page is then read back as a person would see it: the summary's numbers against
``promptbench show --json``, what each filter leaves, the search, the word diff, and a
10,000-record run that must stay light. A screenshot of each page goes to
``test-artifacts/`` at the repository root.

Without the browser these tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptbench.report.html.page import embed_json, human_size
from promptbench.testing import browser as chromium_helper
from tests.helpers.e2e import invoke, latest_run, no_traceback
from tests.helpers.project import Project

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WROTE = re.compile(r"wrote (?P<path>.+) \((?P<size>[\d.]+ (?:B|KB|MB|GB))\)")
MAX_ROWS_IN_DOM = 150

if TYPE_CHECKING:  # selenium is a dev dependency, imported where used
    from selenium.webdriver.remote.webdriver import WebDriver


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module; skipped without it, failed without it in CI."""
    why = chromium_helper.missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser for the HTML report tests: {why}")
        pytest.skip(f"no headless browser: {why}")
    with chromium_helper.chromium() as driver:
        yield driver


# --------------------------------------------------------------------------- helpers


def open_page(driver: WebDriver, path: Path) -> None:
    """Load a report and wait until it has drawn itself."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1400, 1000)
    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.body.dataset.ready === '1'")
    )
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def shot(driver: WebDriver, name: str, *, full: bool = True) -> Path:
    """Save a screenshot (of the whole page, or the window) as a test artifact; say where."""
    if full:
        path = chromium_helper.screenshot_full(driver, ARTIFACTS / name)
        driver.set_window_size(1400, 1000)
    else:
        path = ARTIFACTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def visible_ids(driver: WebDriver) -> list[str]:
    """The case ids of the rows in the DOM, top to bottom."""
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#rows tr.row')].map(r => r.dataset.id)"
    )
    return ids


def shown(driver: WebDriver) -> int:
    """What the row counter says is shown (all rows that pass the filters)."""
    return int(driver.execute_script("return document.getElementById('count').dataset.shown"))


def mode(driver: WebDriver, name: str) -> None:
    """Press one of the segmented filter buttons (All, Failures, Errors, Flipped, ...)."""
    driver.find_element("css selector", f".seg button[data-mode='{name}']").click()


def search(driver: WebDriver, text: str) -> None:
    """Type into the search box and wait for the (debounced) filter to run."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    before = driver.execute_script("return document.body.dataset.filtered")
    box = driver.find_element("id", "search")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE, text)
    WebDriverWait(driver, 5).until(
        lambda d: d.execute_script("return document.body.dataset.filtered") != before
    )


def select(driver: WebDriver, element_id: str, label: str) -> None:
    """Choose an option of a select by its text."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_visible_text(label)


def wrote(stderr: str) -> tuple[Path, str]:
    """The path and size of the ``wrote PATH (SIZE)`` line."""
    m = WROTE.search(stderr)
    assert m, stderr
    return Path(m["path"]), m["size"]


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """The run's records. Lines split on newlines only: outputs here hold U+2028, which
    ``str.splitlines`` would also split on."""
    text = (run_dir / "records.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def verdict(record: dict[str, Any], metric: str | None = None) -> str:
    """A record's verdict as the page shows it: p, f, e (error) or n (none applies)."""
    if metric is not None:
        s = record["scores"].get(metric)
        if s is None:
            return "-"
        return "e" if s.get("error") or s["passed"] is None else "p" if s["passed"] else "f"
    if record["error"]:
        return "e"
    if record["passed"] is None:
        return "e" if record["scores"] else "n"
    return "p" if record["passed"] else "f"


def by_case(
    records: list[dict[str, Any]], metric: str | None = None, variants: set[str] | None = None
) -> dict[str, set[str]]:
    """Each case's verdicts over the records shown."""
    out: dict[str, set[str]] = {}
    for r in records:
        if variants is None or r["variant"] in variants:
            out.setdefault(r["case_id"], set()).add(verdict(r, metric))
    return out


# --------------------------------------------------------------------------- the run page

CAPITALS = {1: "Paris", 2: "Berlin", 3: "Rome", 4: "Madrid", 5: "Lisbon", 6: "Oslo", 7: "Kyiv"}
HOSTILE = "</script><script>window.pwned = 1</script>"
MARKUP = '<img src=x onerror="window.pwned = 2"> & \u2028 <b>bold</b> 🎉'


def capitals_suite() -> dict[str, Any]:
    """Two variants × two scripted models × seven cases; failures, flips, a call error."""
    alpha = {
        "Q: case-1": "Paris",
        "Question: case-1": "Paris",
        "Q: case-2": HOSTILE,
        "Question: case-2": "Berlin",
        "Q: case-3": MARKUP,
        "Question: case-3": "Rome",
        "Q: case-4": "Madrid",
        "Question: case-4": "It is Madrid",  # exact fails, icontains passes
        "Q: case-5": "Lisbon",
        "Question: case-5": "Lisboa",
        "case-6": "Oslo",
        "case-7": "Kiev",  # wrong everywhere: a failure that is not a flip
    }
    beta = {f"case-{i}": c for i, c in CAPITALS.items()} | {"case-6": "Bergen", "case-7": "Kiev"}
    return {
        "name": "capitals",
        "description": "Capitals <b>of</b> Europe",
        "prompts": {"short": "Q: {{ q }}", "long": "Question: {{ q }}"},
        "models": {
            "alpha": {"provider": "mock", "answers": alpha, "latency_ms": 2},
            "beta": {
                "provider": "mock",
                "answers": beta,
                "faults": ["client_error"],  # the first call fails, and is not retried
                "latency_ms": 4,
            },
        },
        "cases": [{"id": f"c{i}", "q": f"case-{i}", "expected": c} for i, c in CAPITALS.items()],
        "metrics": [{"exact": {}}, {"icontains": {"value": "{{ expected }}"}}],
        "gate": {"exact": ">= 0.6"},
        "max_error_rate": 0.5,
        "concurrency": 1,
    }


@pytest.fixture
def capitals(project: Project) -> tuple[Path, Path]:
    """The run (through ``run --html``) and its report."""
    suite = project.suite(capitals_suite())
    html = project.root / "out" / "run.html"
    result = invoke("run", str(suite), "-q", "--html", str(html))
    no_traceback(result)
    assert result.exit_code == 1, result.output  # the gate fails for some groups
    path, size = wrote(result.stderr)
    assert path == html and html.is_file()
    assert size == human_size(html.stat().st_size)
    return latest_run(project), html


def test_report_command_writes_the_same_page_as_run_html(
    capitals: tuple[Path, Path], project: Project
) -> None:
    run_dir, html = capitals
    again = project.root / "again.html"
    result = invoke("report", run_dir.name[:15], "--html", str(again))
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert wrote(result.stderr)[0] == again
    assert again.read_bytes() == html.read_bytes()
    # Without --html: report.html in the run's directory.
    result = invoke("report")
    assert result.exit_code == 0, result.output
    assert wrote(result.stderr)[0] == run_dir / "report.html"
    assert (run_dir / "report.html").read_bytes() == html.read_bytes()


def test_report_is_self_contained_and_escapes_model_text(capitals: tuple[Path, Path]) -> None:
    _, html = capitals
    text = html.read_text(encoding="utf-8")
    # No external anything: no src/href to a URL, no link or import, a CSP forbidding fetches.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "<link" not in text and "@import" not in text
    assert "default-src 'none'" in text
    # Exactly the page's own two script elements; model text never closes one.
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert "window.pwned" in text and HOSTILE not in text and "\u2028" not in text
    payload = text.split('<script id="pb-data" type="application/json">', 1)[1]
    data = json.loads(payload.split("</script>", 1)[0])
    outputs = {c["o"] for row in data["rows"] for c in row["c"] if c}
    assert HOSTILE in outputs and MARKUP in outputs


@pytest.mark.slow
def test_run_page_summary_filters_and_search(
    browser: WebDriver, capitals: tuple[Path, Path], project: Project
) -> None:
    run_dir, html = capitals
    shown_json = invoke("show", run_dir.name, "--json")
    assert shown_json.exit_code == 0, shown_json.output
    show = json.loads(shown_json.stdout)
    records = read_records(run_dir)
    open_page(browser, html)

    # Model text is shown as text: nothing it holds ran.
    assert browser.execute_script("return window.pwned") is None
    page_text = browser.find_element("id", "rows").text
    assert "</script><script>window.pwned = 1</script>" in page_text
    assert '<img src=x onerror="window.pwned = 2">' in page_text

    # The summary: every number equals the run's, as shown and as the raw value.
    summary_rows = browser.find_elements("css selector", "#summary tbody tr")
    groups = {(g["variant"], g["model"]): g for g in show["summary"]["groups"]}
    assert len(summary_rows) == len(groups) == 4
    for tr in summary_rows:
        tds = tr.find_elements("css selector", "td")
        g = groups[(tds[0].text.strip(), tds[1].text.strip())]
        cells = {td.get_attribute("data-k"): td for td in tds if td.get_attribute("data-k")}
        expect: dict[str, tuple[Any, str]] = {
            "records": (g["records"], f"{g['records']:,}"),
            "pass_rate": (g["pass_rate"], f"{g['pass_rate']:.1%}"),
            "errors": (g["errors"], f"{g['errors']:,}"),
            "p50": (g["latency_ms"]["p50"], f"{g['latency_ms']['p50']:,.0f}"),
            "p95": (g["latency_ms"]["p95"], f"{g['latency_ms']['p95']:,.0f}"),
            "tokens": (g["tokens"]["total"], f"{g['tokens']['total']:,}"),
            "cost": (g["cost"], f"${g['cost']:.4f}"),
        }
        for name, m in g["metrics"].items():
            expect[f"metric:{name}"] = (m["mean"], f"{m['mean']:.3f}")
        assert set(cells) == set(expect)
        for key, (value, text) in expect.items():
            td = cells[key]
            assert float(td.get_attribute("data-value")) == pytest.approx(value, abs=0), key
            assert td.text.split(" (")[0].strip() == text, (key, td.text, text)
    # The ranking, as `promptbench rank` gives it: the same settings, order and set.
    ranked = json.loads(invoke("rank", run_dir.name, "--json").stdout)
    # Folded in <details>, so read from the DOM (.text is only what is displayed).
    rank_rows = browser.execute_script(
        "return [...document.querySelectorAll('#ranking tbody tr')]"
        ".map((tr) => [tr.cells[1].textContent, tr.className])"
    )
    settings = [setting for setting, _ in rank_rows]
    assert settings == [r["setting"] for r in ranked["rows"]]
    best = [setting for setting, cls in rank_rows if cls == "best"]
    assert best == ranked["best_set"]
    outcome = browser.find_element("id", "outcome")
    assert outcome.get_attribute("data-outcome") == show["outcome"] == "gate_failed"
    checks = browser.find_elements("css selector", ".gate .check")
    assert len(checks) == len(show["gate"]["checks"])
    assert sum("✓" in c.text for c in checks) == sum(c["holds"] for c in show["gate"]["checks"])

    # Every case, side by side: one row per case, one column per variant × model.
    cases = by_case(records)
    assert shown(browser) == len(cases) == 7
    assert visible_ids(browser) == [f"c{i}" for i in range(1, 8)]
    assert len(browser.find_elements("css selector", "#colheads th.col")) == 4
    shot(browser, "report-run.png")

    # Failures only: exactly the cases with a failing record; errors are apart.
    failing = {c for c, v in cases.items() if "f" in v}
    erring = {c for c, v in cases.items() if "e" in v}
    flipped = {c for c, v in cases.items() if {"p", "f"} <= v}
    assert failing and erring and flipped and failing != flipped
    mode(browser, "fail")
    assert set(visible_ids(browser)) == failing and shown(browser) == len(failing)
    mode(browser, "error")
    assert set(visible_ids(browser)) == erring
    mode(browser, "flip")
    assert set(visible_ids(browser)) == flipped and "c7" not in flipped

    # By metric: c4's long answer fails exact but passes icontains.
    mode(browser, "fail")
    select(browser, "metric", "exact")
    assert set(visible_ids(browser)) == {
        c for c, v in by_case(records, "exact").items() if "f" in v
    }
    select(browser, "metric", "icontains")
    by_icontains = {c for c, v in by_case(records, "icontains").items() if "f" in v}
    assert set(visible_ids(browser)) == by_icontains and "c4" not in by_icontains
    select(browser, "metric", "all metrics")

    # By variant: hide "short"; its columns go, and so do the cases only it failed.
    browser.find_element("css selector", ".toggle[data-variant='short']").click()
    assert len(browser.find_elements("css selector", "#colheads th.col")) == 2
    long_only = {c for c, v in by_case(records, variants={"long"}).items() if "f" in v}
    assert set(visible_ids(browser)) == long_only and "c2" not in long_only
    browser.find_element("css selector", ".toggle[data-variant='short']").click()

    # A row opens (its whole output, every reason) and closes again.
    mode(browser, "all")
    open_row = "return document.querySelector('#rows tr.row[data-id=\"c3\"]').className"
    browser.find_element("css selector", "#rows tr.row[data-id='c3'] .exp").click()
    assert "open" in browser.execute_script(open_row)
    browser.find_element("css selector", "#rows tr.row[data-id='c3'] .exp").click()
    assert "open" not in browser.execute_script(open_row)

    # Search narrows to the matching case, and marks what matched.
    search(browser, "lisboa")
    assert visible_ids(browser) == ["c5"]
    assert browser.find_element("css selector", "#rows mark").text.lower() == "lisboa"
    search(browser, "")
    assert shown(browser) == 7


# --------------------------------------------------------------------------- a large run


@pytest.mark.slow
def test_ten_thousand_records_render_lazily_and_filter(
    browser: WebDriver, project: Project
) -> None:
    n_cases = 5000  # × 2 variants = 10,000 records
    project.jsonl(
        "data/big.jsonl",
        [{"id": f"c{i}", "q": f"question {i}: what is {i} + {i}?"} for i in range(1, n_cases + 1)],
    )
    suite = project.suite(
        {
            "name": "big",
            "prompts": {"a": "Q: {{ q }}", "b": "Think, then answer. {{ q }}"},
            # a passes the cases ending in 3 or 7; b those too, and those starting with 1.
            "models": {
                "m": {
                    "provider": "mock",
                    "answers": {"3?": "yes", "7?": "yes, seven", "answer. question 1": "yes"},
                    "replies": ["no", "no way"],
                }
            },
            "cases": "data/big.jsonl",
            "metrics": [{"icontains": {"value": "yes"}}],
            "concurrency": 64,
        }
    )
    result = invoke("run", str(suite), "-q", "--no-cache")
    assert result.exit_code == 0, result.output
    run_dir = latest_run(project)
    records = read_records(run_dir)
    assert len(records) == 2 * n_cases
    html = project.root / "big.html"
    result = invoke("report", str(run_dir), "--html", str(html))
    assert result.exit_code == 0, result.output
    _, size = wrote(result.stderr)
    assert size.endswith(" MB") and html.stat().st_size < 5_000_000

    open_page(browser, html)
    rendered = "return window.promptbench.rendered()"
    assert shown(browser) == n_cases
    assert 0 < browser.execute_script(rendered) <= MAX_ROWS_IN_DOM
    assert visible_ids(browser)[0] == "c1"
    shot(browser, "report-10k.png", full=False)

    # Scrolled to the end: the last cases, and still only a window of rows in the DOM.
    for _ in range(3):  # heights settle as rows are measured
        browser.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
        chromium_helper.settle(browser)
    assert visible_ids(browser)[-1] == f"c{n_cases}"
    assert browser.execute_script(rendered) <= MAX_ROWS_IN_DOM
    # Halfway down, the rows there are drawn.
    browser.execute_script("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    chromium_helper.settle(browser)
    middle = [int(i[1:]) for i in visible_ids(browser)]
    assert middle and 1000 < middle[0] < 4000, middle[:3]

    failing = {c for c, v in by_case(records).items() if "f" in v}
    assert len(failing) == 4000
    mode(browser, "fail")
    assert shown(browser) == len(failing)
    assert set(visible_ids(browser)) <= failing
    assert browser.execute_script(rendered) <= MAX_ROWS_IN_DOM
    mode(browser, "all")
    flipped = {c for c, v in by_case(records).items() if {"p", "f"} <= v}
    mode(browser, "flip")
    assert shown(browser) == len(flipped) == 1 + 8 + 80 + 800  # 1, 1x, 1xx, 1xxx; not x3, x7
    assert set(visible_ids(browser)) <= flipped
    mode(browser, "all")
    search(browser, "c4321")
    assert visible_ids(browser) == ["c4321"] and shown(browser) == 1


# --------------------------------------------------------------------------- the diff page


def colour_suite() -> dict[str, Any]:
    """Two variants whose answers differ by a word or two, case by case."""
    answers = {
        "A: d1": "The sky is blue today",
        "B: d1": "The sky is green today",  # pass → fail
        "A: d2": "Water is wet",
        "B: d2": "Water is wet",  # the same
        "A: d3": "Fire is cold",
        "B: d3": "Fire is hot <script>window.pwned = 3</script>",  # fail → pass
        "A: d4": "Grass is green",
        "B: d4": "Grass is very green",  # passes on both sides
    }
    return {
        "name": "colours",
        "prompts": {"a": "A: {{ q }}", "b": "B: {{ q }}"},
        "models": {"m": {"provider": "mock", "answers": answers}},
        "cases": [
            {"id": "d1", "q": "d1", "expected": "blue"},
            {"id": "d2", "q": "d2", "expected": "wet"},
            {"id": "d3", "q": "d3", "expected": "hot"},
            {"id": "d4", "q": "d4", "expected": "green"},
        ],
        "metrics": [{"icontains": {"value": "{{ expected }}"}}],
    }


@pytest.mark.slow
def test_diff_page_statistics_flips_and_word_diff(browser: WebDriver, project: Project) -> None:
    suite = project.suite(colour_suite())
    result = invoke("run", str(suite), "-q")
    assert result.exit_code == 0, result.output
    html = project.root / "diff.html"
    result = invoke("diff", "--variants", "a", "b", "--html", str(html))
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert wrote(result.stderr)[0] == html
    data = json.loads(invoke("diff", "--variants", "a", "b", "--json").stdout)

    open_page(browser, html)
    assert browser.execute_script("return window.pwned") is None

    # The statistics table: each metric's means, difference, p and verdict, as diff --json.
    (pair,) = data["pairs"]
    for m in pair["metrics"]:
        tr = browser.find_element("css selector", f"table.stats tr[data-metric='{m['name']}']")
        cells = {
            td.get_attribute("data-k"): td
            for td in tr.find_elements("css selector", "td")
            if td.get_attribute("data-k")
        }
        for key, field in (
            ("mean_a", "mean_a"),
            ("mean_b", "mean_b"),
            ("diff", "diff"),
            ("p", "p_adjusted"),
        ):
            raw = cells[key].get_attribute("data-value")
            assert (float(raw) if raw else None) == m[field], (m["name"], key)
        assert cells["verdict"].text == m["verdict"]
    assert (
        f"{pair['metrics'][0]['mean_a']:.1%}"
        in browser.find_element("css selector", "table.stats").text
    )

    # Changed words are marked: deleted from A, inserted in B.
    def marks(case_id: str, tag: str) -> list[str]:
        found: list[str] = browser.execute_script(
            "const [id, tag] = arguments;"
            "const rows = [...document.querySelectorAll('#rows tr.row')];"
            "const row = rows.find(r => r.dataset.id === id);"
            "return [...row.querySelectorAll(tag)].map(e => e.textContent);",
            case_id,
            tag,
        )
        return found

    assert marks("d1", "td:nth-of-type(1) del") == ["blue"]
    assert marks("d1", "td:nth-of-type(2) ins") == ["green"]
    assert marks("d1", "td:nth-of-type(1) ins") == [] and marks("d1", "td:nth-of-type(2) del") == []
    assert marks("d2", "del") == [] and marks("d2", "ins") == []
    assert marks("d4", "td:nth-of-type(2) ins") == ["very "]
    assert marks("d3", "td:nth-of-type(1) del") == ["cold"]
    assert marks("d3", "td:nth-of-type(2) ins") == ["hot <script>window.pwned = 3</script>"]
    shot(browser, "report-diff.png")

    # The flips are diff's: pass → fail and fail → pass.
    flips = {f["case_id"]: f["direction"] for f in data["pairs"][0].get("flips", [])}
    assert flips == {"d1": "regression", "d3": "improvement"}
    mode(browser, "flip")
    assert set(visible_ids(browser)) == {"d1", "d3"}
    mode(browser, "reg")
    assert visible_ids(browser) == ["d1"]
    mode(browser, "imp")
    assert visible_ids(browser) == ["d3"]
    mode(browser, "changed")
    assert set(visible_ids(browser)) == {"d1", "d3", "d4"}
    mode(browser, "all")
    search(browser, "wet")
    assert visible_ids(browser) == ["d2"]


# --------------------------------------------------------------------------- no browser needed


def test_embedded_json_cannot_close_the_script_element() -> None:
    text = embed_json({"o": "</script><!-- <script> & \u2028\u2029 🎉"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"o": "</script><!-- <script> & \u2028\u2029 🎉"}


def test_human_size() -> None:
    assert human_size(812) == "812 B"
    assert human_size(45_300) == "45.3 KB"
    assert human_size(1_234_567) == "1.2 MB"
    assert human_size(999_999) == "1.0 MB"
    assert human_size(3_000_000_000) == "3.0 GB"


def test_diff_html_against_a_baseline_file_and_bad_paths(project: Project) -> None:
    suite = project.suite(colour_suite())
    assert invoke("run", str(suite), "-q").exit_code == 0
    baseline = project.root / "baseline.json"
    assert invoke("baseline", "save", "latest", str(baseline)).exit_code == 0
    html = project.root / "vs-baseline.html"
    result = invoke("diff", str(baseline), "latest", "--html", str(html))
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert wrote(result.stderr)[0] == html and html.stat().st_size > 10_000
    # A path that cannot be written: one line, exit 2.
    blocker = project.write("file", "x")
    result = invoke("report", "--html", str(blocker / "report.html"))
    assert result.exit_code == 2 and "cannot write" in result.stderr
    result = invoke("report", "no-such-run")
    assert result.exit_code == 2 and "no run 'no-such-run'" in result.stderr


def test_run_html_with_two_suites_writes_one_report_each(project: Project) -> None:
    first = project.suite(colour_suite(), name="suites/first.yaml")
    second = project.suite(colour_suite() | {"name": "colours2"}, name="suites/second.yaml")
    result = invoke("run", str(first), str(second), "-q", "--html", "out/r.html")
    assert result.exit_code == 0, result.output
    assert (project.root / "out" / "r-colours.html").is_file()
    assert (project.root / "out" / "r-colours2.html").is_file()
    assert result.stderr.count("wrote out/r-") == 2
