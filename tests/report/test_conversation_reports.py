"""Transcripts, tool calls and images in the HTML report, the CSV, diff and the gate.

Runs are made for real through the CLI, with the scripted mock model.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path
from typing import Any

from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.images import png_bytes, write_png
from tests.helpers.project import Project

WEATHER = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def agent_suite() -> dict[str, Any]:
    return {
        "name": "agent",
        "prompts": {
            # Calls the tool, gets its result, answers from it.
            "tools": {
                "user": "Weather in {{ city }}?",
                "image": "{{ photo }}",
                "tools": [WEATHER],
                "tool_results": {"get_weather": "sunny in {{ args.city }}"},
                "turns": ["And tomorrow?"],
            },
            # Never calls: the tool metrics fail for it.
            "plain": {
                "user": "Weather in {{ city }}?",
                "image": "{{ photo }}",
                "turns": ["And tomorrow?"],
            },
        },
        "models": {
            "m": {
                "provider": "mock",
                "tool_calls": {
                    "Weather in": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
                },
                "answers": {"sunny": "It is sunny.", "tomorrow": "Rain tomorrow."},
            }
        },
        "cases": [
            {"id": "oslo", "city": "Oslo", "photo": "data/sky.png"},
            {"id": "rome", "city": "Rome", "photo": "data/sky.png"},
        ],
        "metrics": [
            {"tool_called": {"tool": "get_weather", "turn": 1}},
            {"icontains": {"value": "sunny", "turn": 1}},
            {"icontains": {"value": "rain", "name": "last_turn"}},
        ],
        "gate": {"tool_called": ">= 0.5"},
    }


def page_data(html: Path) -> dict[str, Any]:
    text = html.read_text(encoding="utf-8")
    m = re.search(r'<script id="pb-data" type="application/json">(.*?)</script>', text, re.S)
    assert m, "the page embeds its data"
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_report_csv_diff_and_gate_handle_conversations(project: Project) -> None:
    write_png(project.root / "data" / "sky.png", (90, 160, 230))
    suite = project.suite(agent_suite())
    result = invoke("run", str(suite), "-q", "--csv", "out.csv", "--variant", "tools")
    no_traceback(result)
    assert result.exit_code == 0, result.output  # the gate on tool_called holds

    # CSV: the prompt column of a conversation is the whole of it, tool steps included.
    rows = list(csv.DictReader((project.root / "out.csv").open(encoding="utf-8")))
    text = rows[0]["prompt"]
    for part in (
        "[user] Weather in",
        "[call] get_weather",
        "[tool get_weather] sunny in Oslo",
        "[assistant] It is sunny.",
        "[user] And tomorrow?",
        "[image] ",
    ):
        assert part in text, text
    assert rows[0]["output"] == "Rain tomorrow."

    # HTML: each cell carries its turns and steps; the case row its image, embedded.
    html = project.root / "report.html"
    result = invoke("report", "--html", str(html))
    assert result.exit_code == 0, result.output
    data = page_data(html)
    row = next(r for r in data["rows"] if r["id"] == "oslo")
    (image,) = row["im"]
    assert image["p"].endswith("sky.png")
    assert base64.b64decode(image["u"].split(",", 1)[1]) == png_bytes((90, 160, 230))
    (cell,) = row["c"]
    turn1, turn2 = cell["tr"]
    assert turn1[0] == 1 and turn1[1] == "Weather in Oslo?"
    assert turn1[2] == [
        ["c", 'get_weather({"city": "Oslo"})'],
        ["t", "get_weather → sunny in Oslo"],
        ["a", "It is sunny."],
    ]
    assert turn2 == [2, "And tomorrow?", [["a", "Rain tomorrow."]]]

    # diff: the two variants pair by case, metric by metric.
    assert invoke("run", str(suite), "-q").exit_code in (0, 1)
    result = invoke("diff", "latest", "--variants", "tools", "plain", "--json")
    no_traceback(result)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    text = json.dumps(report)
    assert "tool_called" in text and "last_turn" in text


def test_the_gate_fails_a_variant_that_calls_no_tool(project: Project) -> None:
    write_png(project.root / "data" / "sky.png")
    suite = project.suite(agent_suite())
    result = invoke("run", str(suite), "-q", "--variant", "plain")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "tool_called" in result.output


def test_a_row_shows_the_images_of_every_variant_and_only_as_sent(project: Project) -> None:
    write_png(project.root / "data" / "a.png", (10, 20, 30))
    write_png(project.root / "data" / "b.png", (200, 100, 0))
    suite = {
        "name": "looks",
        "prompts": {  # the first variant sends no image, the others one each
            "text": "Describe {{ thing }}.",
            "look_a": {"user": "Describe {{ thing }}.", "image": "data/a.png"},
            "look_b": {"user": "Describe {{ thing }}.", "image": "data/b.png"},
        },
        "models": {"m": {"provider": "mock"}},
        "cases": [{"id": "one", "thing": "it"}],
        "concurrency": 1,
    }
    assert invoke("run", str(project.suite(suite)), "-q").exit_code == 0
    html = project.root / "report.html"
    assert invoke("report", "--html", str(html)).exit_code == 0
    (row,) = page_data(html)["rows"]
    shown = {Path(im["p"]).name: im for im in row["im"]}
    assert set(shown) == {"a.png", "b.png"}
    assert base64.b64decode(shown["b.png"]["u"].split(",", 1)[1]) == png_bytes((200, 100, 0))

    # An image changed since the run is named as such, never shown as if it had been sent.
    write_png(project.root / "data" / "b.png", (0, 0, 0))
    assert invoke("report", "--html", str(html)).exit_code == 0
    (row,) = page_data(html)["rows"]
    (changed,) = [im for im in row["im"] if "b.png" in im["p"]]
    assert changed["p"].endswith("b.png (changed or gone since the run)") and "u" not in changed
