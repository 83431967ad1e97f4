"""Tool loops and images through ``promptbench run`` for anthropic, gemini and azure.

Each provider goes through its official SDK (its one transport) to its loopback
server, which checks tools, tool results and images as that API does (a
``tool_result`` that answers no ``tool_use``, a function response missing, an
image that is not one: a 400) and records every request. The records say what
promptbench understood; the recorded requests say what it sent, in each API's
own shape.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from promptbench.testing.wire import WireServer
from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.hosted import anthropic_model, azure_model, gemini_model
from tests.helpers.images import png_bytes, write_png
from tests.helpers.project import Project

pytestmark = pytest.mark.usefixtures("hosted_env")

JsonDict = dict[str, Any]
Sent = list[tuple[str | None, str, JsonDict]]  # (call id, tool, arguments) as sent back
Results = list[tuple[str | None, str]]  # (call id answered, result text)

LOOKUP = {
    "name": "lookup_order",
    "description": "An order's status and destination",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^[A-Z][0-9]+$"}},
        "required": ["order_id"],
    },
}
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TIME = {"name": "get_time", "description": "The hour", "parameters": {"type": "object"}}
ORDERS_PY = """
def lookup_order(order_id):
    return {"order_id": order_id, "status": "shipped", "city": "Paris"}
"""
LOOKED_UP = '{"order_id": "A17", "status": "shipped", "city": "Paris"}'
FINAL = "Order A17 has shipped; it is sunny in Paris at 12."
# The scripted model: A17 is looked up, then the weather and time asked at once, then an
# answer; B2 asks for Oslo's weather again after every answer, until max_steps stops it.
RULES = [
    {
        "match": "order A17",
        "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A17"}}],
    },
    {
        "match": "shipped",
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_time", "arguments": {}},
        ],
    },
    {"match": "hour", "reply": FINAL},
    {"match": "order B2", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
    {
        "match": "Oslo: sunny",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
    },
]


# --------------------------------------------------------------------------- each API's shapes


def _anthropic_exchange(body: JsonDict) -> tuple[Sent, Results]:
    """The tool_use blocks of the last assistant message, and the tool_result blocks after."""
    assistant, results = body["messages"][-2:]
    assert assistant["role"] == "assistant" and results["role"] == "user"
    sent = []
    for block in assistant["content"]:
        assert set(block) == {"type", "id", "name", "input"} and block["type"] == "tool_use"
        sent.append((block["id"], block["name"], block["input"]))
    answered = []
    for block in results["content"]:
        assert set(block) == {"type", "tool_use_id", "content"} and block["type"] == "tool_result"
        answered.append((block["tool_use_id"], block["content"]))
    return sent, answered


def _gemini_exchange(body: JsonDict) -> tuple[Sent, Results]:
    """The functionCall parts of the last model turn, and the functionResponse parts after."""
    model, results = body["contents"][-2:]
    assert model["role"] == "model" and results["role"] == "user"
    sent = []
    for part in model["parts"]:
        assert set(part) - {"thoughtSignature"} == {"functionCall"}
        assert set(part["functionCall"]) == {"name", "args"}
        sent.append((None, part["functionCall"]["name"], part["functionCall"]["args"]))
    answered = []
    for part in results["parts"]:
        assert set(part) == {"functionResponse"}
        response = part["functionResponse"]
        assert set(response) == {"name", "response"} and set(response["response"]) == {"result"}
        answered.append((response["name"], response["response"]["result"]))
    return sent, answered


def _azure_exchange(body: JsonDict) -> tuple[Sent, Results]:
    """The assistant's tool_calls, and the tool messages after it."""
    messages = body["messages"]
    at = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    sent = []
    for call in messages[at]["tool_calls"]:
        assert call["type"] == "function"
        sent.append(
            (call["id"], call["function"]["name"], json.loads(call["function"]["arguments"]))
        )
    answered = []
    for m in messages[at + 1 :]:
        assert set(m) == {"role", "content", "tool_call_id"} and m["role"] == "tool"
        answered.append((m["tool_call_id"], m["content"]))
    return sent, answered


def _anthropic_tools(body: JsonDict) -> None:
    assert body["tools"] == [
        {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
        for t in (LOOKUP, WEATHER, TIME)
    ]
    assert body["tool_choice"] == {"type": "auto"}


def _gemini_tools(body: JsonDict) -> None:
    (tools,) = body["tools"]
    assert tools["functionDeclarations"] == [
        {
            "name": t["name"],
            "description": t["description"],
            "parameters_json_schema": t["parameters"],
        }
        for t in (LOOKUP, WEATHER, TIME)
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


def _azure_tools(body: JsonDict) -> None:
    assert body["tools"] == [{"type": "function", "function": t} for t in (LOOKUP, WEATHER, TIME)]
    assert body["tool_choice"] == "auto"


def _anthropic_image(body: JsonDict) -> JsonDict:
    (block,) = [b for b in body["messages"][-1]["content"] if b["type"] == "image"]
    return dict(block["source"])


def _gemini_image(body: JsonDict) -> JsonDict:
    (part,) = [p for p in body["contents"][-1]["parts"] if "text" not in p]
    return dict(part)


def _azure_image(body: JsonDict) -> JsonDict:
    (part,) = [p for p in body["messages"][-1]["content"] if p["type"] == "image_url"]
    return dict(part["image_url"])


def _opening(body: JsonDict) -> str:
    """The first user text of a request in any of the three shapes."""
    for turn in body.get("messages") or body.get("contents") or []:
        if turn["role"] != "user":
            continue
        content = turn.get("content", turn.get("parts"))
        if isinstance(content, str):
            return content
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                return str(part["text"])
    return ""


B64 = base64.b64encode(png_bytes()).decode()


@dataclass(frozen=True)
class Host:
    """One provider: its server fixture, model entry, and how its requests look."""

    server: str
    model: Callable[[str], JsonDict]
    exchange: Callable[[JsonDict], tuple[Sent, Results]]
    tools: Callable[[JsonDict], None]
    image: Callable[[JsonDict], JsonDict]
    file_image: JsonDict  # what image() gives for data/red.png
    url_image: JsonDict  # ... and for https://example.com/cat.png
    ids: bool = True  # the API gives calls ids (Gemini matches results by name)
    signed: bool = False  # the API signs calls and wants the signature back (Gemini 3)


HOSTS = {
    "anthropic": Host(
        "anthropic_server",
        anthropic_model,
        _anthropic_exchange,
        _anthropic_tools,
        _anthropic_image,
        {"type": "base64", "media_type": "image/png", "data": B64},
        {"type": "url", "url": "https://example.com/cat.png"},
    ),
    "gemini": Host(
        "gemini_server",
        gemini_model,
        _gemini_exchange,
        _gemini_tools,
        _gemini_image,
        {"inlineData": {"mime_type": "image/png", "data": B64}},
        {"fileData": {"file_uri": "https://example.com/cat.png", "mime_type": "image/jpeg"}},
        ids=False,
    ),
    # Gemini 3 signs the first call of each answer; a turn sent back without it is a 400.
    "gemini-3": Host(
        "gemini_server",
        lambda url: gemini_model(url, model="gemini-3-pro-preview"),
        _gemini_exchange,
        _gemini_tools,
        _gemini_image,
        {"inlineData": {"mime_type": "image/png", "data": B64}},
        {"fileData": {"file_uri": "https://example.com/cat.png", "mime_type": "image/jpeg"}},
        ids=False,
        signed=True,
    ),
    "azure": Host(
        "azure_server",
        lambda url: azure_model(url, model="gpt-4o-mini"),
        _azure_exchange,
        _azure_tools,
        _azure_image,
        {"url": f"data:image/png;base64,{B64}"},
        {"url": "https://example.com/cat.png"},
    ),
}


@pytest.fixture(params=list(HOSTS))
def host(request: pytest.FixtureRequest) -> tuple[Host, WireServer]:
    spec = HOSTS[request.param]
    server: WireServer = request.getfixturevalue(spec.server)
    return spec, server


def tool_suite(spec: Host, url: str) -> JsonDict:
    return {
        "name": "hosted-tools",
        "prompts": {
            "agent": {
                "system": "You help with orders.",
                "user": "Where is order {{ order }}?",
                "tools": [LOOKUP, WEATHER, TIME],
                "tool_choice": "auto",
                "tool_results": {
                    "lookup_order": {"python": "orders.py:lookup_order"},
                    "get_weather": "{{ args.city }}: sunny, 21 C",
                    "get_time": {"value": {"hour": 12}},
                },
                "max_steps": 4,
            }
        },
        "models": {"m": spec.model(url)},
        "cases": [
            {"id": "a17", "order": "A17", "city": "Paris"},
            {"id": "b2", "order": "B2", "city": "Oslo"},
        ],
        "metrics": [
            {"tool_called": {"tool": "lookup_order", "times": 1}},
            {"tool_called": {"tool": "get_weather", "min": 4, "name": "looped"}},
            {"tool_args": {"tool": "get_weather", "path": "city", "equals": "{{ city }}"}},
            {
                "tool_calls_match": {
                    "expected": [
                        {"name": "lookup_order", "arguments": {"order_id": "{{ order }}"}},
                        {"name": "get_weather", "arguments": {"city": "{{ city }}"}},
                        {"name": "get_time"},
                    ],
                    "order": "sequence",
                }
            },
            {"no_tool_call": "cancel_order"},
            {"icontains": "shipped"},
            {
                "regex": {
                    "pattern": "^[A-Z][0-9]+$",
                    "target": {"tool": "lookup_order", "arg": "order_id"},
                    "name": "order_id_shape",
                }
            },
        ],
    }


def _steps(record: JsonDict) -> list[JsonDict]:
    """The transcript after the rendered prompt: assistant and tool messages."""
    return record["transcript"][len(record["messages"]) :]


def test_a_multi_step_tool_loop(host: tuple[Host, WireServer], project: Project) -> None:
    spec, server = host
    server.configure(rules=RULES)
    project.write("suites/orders.py", ORDERS_PY)
    result = invoke("run", str(project.suite(tool_suite(spec, server.url))), "-q")
    no_traceback(result)
    assert result.exit_code in (0, 1), result.output
    recs = {r["case_id"]: r for r in project.records()}

    # A17: three calls; a lookup, then two tools at once, then the answer.
    a17 = recs["a17"]
    assert a17["error"] is None, a17["error"]
    assert a17["output"] == FINAL and a17["calls"] == 3
    first, result1, second, weather, clock, last = _steps(a17)
    assert [c["name"] for c in first["tool_calls"]] == ["lookup_order"]
    assert first["tool_calls"][0]["arguments"] == {"order_id": "A17"}
    assert first["tool_calls"][0]["raw_arguments"] == '{"order_id": "A17"}'
    assert (result1["role"], result1["content"], result1["name"]) == (
        "tool",
        LOOKED_UP,
        "lookup_order",
    )
    assert [(c["name"], c["arguments"], c["raw_arguments"]) for c in second["tool_calls"]] == [
        ("get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
        ("get_time", {}, "{}"),
    ]
    assert (weather["content"], clock["content"]) == ("Paris: sunny, 21 C", '{"hour": 12}')
    assert (last["role"], last["content"], last.get("tool_calls")) == ("assistant", FINAL, None)
    scores = a17["scores"]
    assert {name: s["passed"] for name, s in scores.items()} == {
        "tool_called": True,
        "looped": False,
        "tool_args": True,
        "tool_calls_match": True,
        "no_tool_call": True,
        "icontains": True,
        "order_id_shape": True,
    }
    assert scores["tool_calls_match"]["value"] == pytest.approx(1.0)

    # B2: max_steps (4) model calls, each asking for the weather again; no answer.
    b2 = recs["b2"]
    assert b2["error"] is None and b2["calls"] == 4 and b2["output"] == ""
    asked = [m for m in _steps(b2) if m["role"] == "assistant"]
    assert [[(c["name"], c["arguments"]) for c in m["tool_calls"]] for m in asked] == [
        [("get_weather", {"city": "Oslo"})]
    ] * 4
    assert {name: s["passed"] for name, s in b2["scores"].items()} == {
        "tool_called": False,
        "looped": True,
        "tool_args": True,
        "tool_calls_match": False,
        "no_tool_call": True,
        "icontains": False,
        "order_id_shape": False,
    }
    # One call of three expected made, of four made: F1 = 2 * (1/4 * 1/3) / (1/4 + 1/3).
    assert b2["scores"]["tool_calls_match"]["value"] == pytest.approx(2 / 7)

    # A signature, where the API gives one, is kept with the first call of each answer.
    for record in (a17, b2):
        for m in _steps(record):
            for k, call in enumerate(m.get("tool_calls") or []):
                assert ("signature" in call) == (spec.signed and k == 0), call

    # What the server received, in this API's shape.
    bodies = [r["body"] for r in server.requests()]
    by_case = {
        case: [b for b in bodies if _opening(b) == f"Where is order {case}?"]
        for case in ("A17", "B2")
    }
    assert (len(by_case["A17"]), len(by_case["B2"])) == (3, 4)
    for body in bodies:
        spec.tools(body)
    ids = [c["id"] for m in _steps(a17) for c in m.get("tool_calls") or []]
    sent, answered = spec.exchange(by_case["A17"][1])
    assert [(name, args) for _, name, args in sent] == [("lookup_order", {"order_id": "A17"})]
    assert [text for _, text in answered] == [LOOKED_UP]
    sent, answered = spec.exchange(by_case["A17"][2])
    assert [(name, args) for _, name, args in sent] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
    ]
    assert [text for _, text in answered] == ["Paris: sunny, 21 C", '{"hour": 12}']
    if spec.signed:  # each signature went back with its call
        for body in by_case["A17"][1:] + by_case["B2"][1:]:
            for turn in body["contents"]:
                calls = [p for p in turn["parts"] if "functionCall" in p]
                assert not calls or calls[0]["thoughtSignature"]
    if spec.ids:  # each result answers the call the model made, by the id it gave
        assert [i for i, _, _ in sent] == [i for i, _ in answered] == ids[1:]
    else:  # by the tool's name
        assert [i for i, _ in answered] == ["get_weather", "get_time"]
    for body in by_case["B2"][1:]:
        sent, answered = spec.exchange(body)
        assert [text for _, text in answered] == ["Oslo: sunny, 21 C"]


def test_an_image_question(host: tuple[Host, WireServer], project: Project) -> None:
    spec, server = host
    digest = write_png(project.root / "data" / "red.png")
    suite = {
        "name": "hosted-vision",
        "prompts": {
            "look": {"system": "One word.", "user": "What colour?", "image": "{{ photo }}"}
        },
        "models": {"m": spec.model(server.url)},
        "cases": [
            {"id": "red", "photo": "data/red.png"},
            {"id": "web", "photo": "https://example.com/cat.png"},
        ],
        "metrics": [{"icontains": "image"}],
    }
    result = invoke("run", str(project.suite(suite)), "-q")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    recs = {r["case_id"]: r for r in project.records()}
    # The server decoded the image it got and names its type and hash in the echo.
    assert recs["red"]["output"] == f"What colour? [image image/png {digest}]"
    assert recs["web"]["output"] == "What colour? [image https://example.com/cat.png]"
    images = {}
    for r in server.requests():
        part = spec.image(r["body"])
        images["web" if "example.com" in json.dumps(part) else "red"] = part
    assert images == {"red": spec.file_image, "web": spec.url_image}
    (image,) = recs["red"]["messages"][-1]["images"]
    assert set(image) == {"path", "sha256", "media_type"}  # never the bytes


def test_the_servers_refuse_an_unanswered_call(host: tuple[Host, WireServer]) -> None:
    """The shape checks that make the loop tests mean something: a result must answer a call."""
    import urllib.error
    import urllib.request

    spec, server = host
    name = spec.server.removesuffix("_server")
    if name == "anthropic":
        path = "/v1/messages"
        body: JsonDict = {
            "model": "claude-haiku-4-5",
            "max_tokens": 10,
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "x", "content": "1"}],
                },
            ],
        }
        headers = {"x-api-key": "sk-ant-test-NEVER-LEAK-4d2a9c", "anthropic-version": "2023-06-01"}
    elif name == "gemini":
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        body = {
            "contents": [
                {"role": "user", "parts": [{"text": "hi"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"text": "no answer"}]},
            ]
        }
        headers = {"x-goog-api-key": "AIzaTest-NEVER-LEAK-8b31f0"}
    else:
        path = "/openai/deployments/triage-mini/chat/completions?api-version=2024-10-21"
        body = {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "user", "content": "no answer"},
            ]
        }
        headers = {"api-key": "azure-test-NEVER-LEAK-55e7d1"}
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
