"""The run page's robustness section: its data, and the page drawn in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project
from tests.report.test_html import browser, open_page  # noqa: F401  (a fixture)

CASES = [{"id": f"q{i}", "q": f"is claim {i} <b>true</b>?"} for i in range(1, 41)]


@pytest.fixture
def page(loopback: LoopbackServer, project: Project) -> Path:
    loopback.configure(rules=[{"match": "and true is true", "reply": "no <script>"}])
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=CASES,
            probes={"taut": {"kind": "tautology"}, "shout": {"kind": "case"}},
            metrics=[{"icontains": "claim"}],
        )
    )
    html = project.root / "run.html"
    result = invoke("run", str(path), "-q", "--html", str(html))
    no_traceback(result)
    assert result.exit_code == 0, result.output
    return html


def _data(html: Path) -> dict[str, object]:
    text = html.read_text(encoding="utf-8")
    payload = text.split('<script id="pb-data" type="application/json">', 1)[1]
    data: dict[str, object] = json.loads(payload.split("</script>", 1)[0])
    return data


def test_the_page_carries_the_robustness_tables_and_flips(page: Path) -> None:
    probes = _data(page)["probes"]
    assert isinstance(probes, dict)
    (table,) = probes["tables"]
    assert (table["variant"], table["model"]) == ("plain", "loop")
    assert table["verdicts"] == ["sensitive", "robust"]
    columns = probes["columns"]
    assert table["rows"][0][columns.index("PDR (95% CI)")].startswith("1.00")
    flip = probes["flips"][0]
    assert flip["twin"] == "q1~taut" and flip["lost"] is True and flip["b"] == "no <script>"
    assert ["insert", "no <script>"] in flip["d"]
    assert "no <script>" not in page.read_text(encoding="utf-8")  # escaped in the JSON


@pytest.mark.slow
def test_the_robustness_section_is_drawn(browser, page: Path) -> None:  # noqa: F811
    open_page(browser, page)
    rows = browser.find_elements("css selector", "#robustness table.probes tbody tr")
    assert [r.find_elements("css selector", "td")[0].text for r in rows] == ["taut", "shout"]
    assert rows[0].find_element("css selector", ".pill").text == "sensitive"
    flip = browser.find_element("css selector", '#robustness .flip[data-twin="q1~taut"]')
    assert flip.find_element("css selector", "ins").get_attribute("textContent") == "no <script>"
    assert (
        browser.execute_script("return document.querySelectorAll('#robustness script').length") == 0
    )
