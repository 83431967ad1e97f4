"""A conversation with tool steps and an image, in the HTML report, in headless Chromium.

The run is real: ``promptbench run`` against the loopback OpenAI-compatible server,
which scripts a tool call, answers after the tool's result, and answers the next
turn; the image goes to it as a data URL. The report of that run is opened in the
browser, and what a reader sees is checked: the image drawn (loaded, not just an
element), each turn's user message, the tool call with its arguments, the tool's
result and the replies. A screenshot goes to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.images import write_png
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model
from tests.report.test_html import browser, open_page, shot  # noqa: F401  (a fixture)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def report(loopback: LoopbackServer, project: Project) -> Path:
    write_png(project.root / "data" / "sky.png", (90, 160, 230))
    call = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    loopback.configure(
        rules=[
            {"match": "Weather in", "tool_calls": [call]},
            {"match": "sunny in Oslo", "reply": "It is sunny in Oslo."},
            {"match": "tomorrow", "reply": "Rain tomorrow."},
        ]
    )
    suite = {
        "name": "agent-report",
        "prompts": {
            "agent": {
                "system": "You know the weather.",
                "user": "Weather in {{ city }}? See the sky.",
                "image": "{{ photo }}",
                "tools": [WEATHER],
                "tool_results": {"get_weather": "sunny in {{ args.city }}"},
                "turns": ["And tomorrow?"],
            }
        },
        "models": {"loop": openai_model(loopback.url)},
        "cases": [{"id": "oslo", "city": "Oslo", "photo": "data/sky.png"}],
        "metrics": [
            {"tool_called": {"tool": "get_weather", "turn": 1}},
            {"icontains": {"value": "rain"}},
        ],
    }
    result = invoke("run", str(project.suite(suite)), "-q")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    html = project.root / "report.html"
    result = invoke("report", "--html", str(html))
    assert result.exit_code == 0, result.output
    return html


def test_a_conversation_with_tools_and_an_image_is_shown(
    browser: WebDriver,  # noqa: F811
    report: Path,
) -> None:
    open_page(browser, report)
    (row,) = browser.find_elements("css selector", "#rows tr.row")
    assert row.get_attribute("data-id") == "oslo"

    # The image is drawn: the browser decoded the embedded file (2 x 2 pixels).
    (img,) = row.find_elements("css selector", "img.thumb")
    assert img.is_displayed()
    assert browser.execute_script("return arguments[0].complete", img) is True
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 2
    assert img.get_attribute("alt").endswith("sky.png")
    assert img.size["width"] >= 96  # drawn in a box of its own, not at 2 pixels

    # The output beside it is the last reply; the conversation unfolds into its turns.
    out = row.find_element("css selector", "pre.out")
    assert out.text == "Rain tomorrow."
    (turns,) = row.find_elements("css selector", "details.turns")
    summary = turns.find_element("tag name", "summary")
    assert summary.text == "2 turns · 1 tool call"
    summary.click()  # unfolds the conversation with its row
    (row,) = browser.find_elements("css selector", "#rows tr.row.open")
    (turns,) = row.find_elements("css selector", "details.turns[open]")
    steps = [s for s in turns.find_elements("css selector", ".step") if s.is_displayed()]
    assert [s.text for s in steps] == [
        "1 user Weather in Oslo? See the sky.",
        'calls get_weather({"city": "Oslo"})',
        "tool get_weather → sunny in Oslo",
        "assistant It is sunny in Oslo.",
        "2 user And tomorrow?",
        "assistant Rain tomorrow.",
    ]
    kinds = [s.get_attribute("class") for s in steps]
    assert kinds == ["step u", "step c", "step t", "step a", "step u", "step a"]
    shot(browser, "report-conversation.png")
    # The shot resized the window, and the lazy rows were drawn again: still unfolded.
    assert browser.find_elements("css selector", "#rows tr.row.open details.turns[open]")
