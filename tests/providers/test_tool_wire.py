"""Tools, calls, results and images mapped to the OpenAI, Anthropic and Gemini shapes."""

from __future__ import annotations

import base64
from pathlib import Path

from promptbench.providers.openai_wire import tool_calls_from_message, wire_messages
from promptbench.providers.tool_wire import (
    anthropic_messages,
    anthropic_tool_calls,
    anthropic_tools,
    gemini_contents,
    gemini_tool_calls,
    gemini_tools,
)
from promptbench.types import Image, Message, ToolCall
from tests.helpers.images import png_bytes

PARAMS = {
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
}


def conversation(tmp_path: Path) -> list[Message]:
    png = tmp_path / "a.png"
    png.write_bytes(png_bytes())
    call = ToolCall.parse("call_1", "get_weather", '{"city": "Paris"}')
    return [
        Message("system", "Be brief."),
        Message("user", "Weather here?", images=(Image(path=str(png), media_type="image/png"),)),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "sunny", tool_call_id="call_1", name="get_weather"),
    ]


def test_openai_wire_form(tmp_path: Path) -> None:
    sent = wire_messages(conversation(tmp_path))
    assert sent[0] == {"role": "system", "content": "Be brief."}
    text, image = sent[1]["content"]
    assert text == {"type": "text", "text": "Weather here?"}
    url = image["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png_bytes()
    assert sent[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert sent[3] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}


def test_openai_tool_calls_from_a_response() -> None:
    message = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{oops"}},
            {"id": "c", "type": "function", "function": {"name": "h", "arguments": {"y": 2}}},
            "junk",
            {"id": "d", "type": "function", "function": {"arguments": "{}"}},
        ],
    }
    a, b, c = tool_calls_from_message(message)
    assert a.arguments == {"x": 1} and a.parse_error is None
    assert b.arguments is None and b.raw_arguments == "{oops" and b.parse_error
    assert c.arguments == {"y": 2} and c.raw_arguments == '{"y": 2}'
    assert tool_calls_from_message({"content": "hi"}) == ()


def test_anthropic_shape(tmp_path: Path) -> None:
    assert anthropic_tools(PARAMS) == {
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": PARAMS["tools"][0]["function"]["parameters"],
            }
        ],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }
    assert anthropic_tools({**PARAMS, "tool_choice": "required"})["tool_choice"] == {"type": "any"}
    assert anthropic_tools({}) == {}
    system, messages = anthropic_messages(conversation(tmp_path))
    assert system == "Be brief."
    user, assistant, result = messages
    assert user["content"][1]["source"]["media_type"] == "image/png"
    assert base64.b64decode(user["content"][1]["source"]["data"]) == png_bytes()
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert result == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}],
    }
    calls = anthropic_tool_calls(
        [
            {"type": "text", "text": "x"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        ]
    )
    assert calls == (ToolCall("t1", "f", '{"a": 1}', {"a": 1}),)


def test_gemini_shape(tmp_path: Path) -> None:
    shaped = gemini_tools(PARAMS)
    assert shaped["tools"][0]["function_declarations"][0]["name"] == "get_weather"
    assert shaped["tool_config"] == {
        "function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_weather"]}
    }
    assert gemini_tools({**PARAMS, "tool_choice": "none"})["tool_config"] == {
        "function_calling_config": {"mode": "NONE"}
    }
    system, contents = gemini_contents(conversation(tmp_path))
    assert system == "Be brief."
    user, model, result = contents
    assert user["parts"][1]["inline_data"]["mime_type"] == "image/png"
    assert model == {
        "role": "model",
        "parts": [{"function_call": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert result["parts"] == [
        {"function_response": {"name": "get_weather", "response": {"result": "sunny"}}}
    ]
    (call,) = gemini_tool_calls(
        [{"text": "hm"}, {"function_call": {"name": "f", "args": {"q": "x"}}}]
    )
    assert call.name == "f" and call.arguments == {"q": "x"} and call.id == "call_1"


def test_the_hosted_providers_send_tools_and_read_calls(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from promptbench.providers.anthropic import AnthropicConfig, completion_from_message
    from promptbench.providers.anthropic import request_body as anthropic_body
    from promptbench.providers.azure import AzureConfig
    from promptbench.providers.azure import request_body as azure_body
    from promptbench.providers.gemini import GeminiConfig, completion_from_response, request_parts
    from promptbench.types import Prompt

    prompt = Prompt(tuple(conversation(tmp_path)), PARAMS)
    claude = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5")
    body = anthropic_body(prompt, claude)
    assert body["system"] == "Be brief."
    assert body["tools"][0]["name"] == "get_weather"
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert body["messages"][-1]["content"][0]["type"] == "tool_result"
    reply = SimpleNamespace(
        stop_reason="tool_use",
        content=[
            SimpleNamespace(type="tool_use", id="tu1", name="get_weather", input={"city": "Oslo"})
        ],
        usage=SimpleNamespace(input_tokens=3, output_tokens=2),
        model="claude-haiku-4-5",
    )
    (call,) = completion_from_message(reply, 1.0).tool_calls
    assert (call.id, call.name, call.arguments) == ("tu1", "get_weather", {"city": "Oslo"})

    contents, gen = request_parts(prompt, GeminiConfig(provider="gemini", model="gemini-2.5-flash"))
    assert gen["tools"][0]["function_declarations"][0]["name"] == "get_weather"
    assert contents[0]["parts"][1]["inline_data"]["data"] == png_bytes()  # bytes for the SDK
    part = SimpleNamespace(
        text=None,
        thought=False,
        function_call=SimpleNamespace(name="get_weather", args={"city": "Rome"}, id=None),
    )
    response = SimpleNamespace(
        prompt_feedback=None,
        candidates=[SimpleNamespace(finish_reason="STOP", content=SimpleNamespace(parts=[part]))],
        usage_metadata=SimpleNamespace(
            prompt_token_count=1, candidates_token_count=1, thoughts_token_count=0
        ),
        model_version="gemini-2.5-flash",
    )
    (gcall,) = completion_from_response(response, 1.0).tool_calls
    assert (gcall.name, gcall.arguments) == ("get_weather", {"city": "Rome"})

    azure = AzureConfig(provider="azure", deployment="gpt4o", endpoint="https://x.openai.azure.com")
    sent = azure_body(prompt, azure)
    assert sent["tools"] == PARAMS["tools"]
    assert sent["messages"][2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert all(c.takes_tools() for c in (claude, azure))


def test_gemini_takes_the_whole_json_schema() -> None:
    # $ref, const and a list of types are JSON Schema that Gemini's OpenAPI-subset
    # ``parameters`` (and the SDK's model of it) refuse: the schema goes whole.
    from google.genai import types

    schema = {
        "type": "object",
        "properties": {"unit": {"const": "C"}, "city": {"$ref": "#/$defs/City"}},
        "$defs": {"City": {"type": ["string", "null"]}},
    }
    params = {"tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]}
    shaped = gemini_tools(params)
    (declaration,) = shaped["tools"][0]["function_declarations"]
    assert declaration == {"name": "f", "parameters_json_schema": schema}
    config = types.GenerateContentConfig.model_validate(shaped)  # what the provider sends
    assert config.tools is not None


def test_a_gemini_thought_signature_goes_back_with_its_call() -> None:
    from google.genai import types

    part = types.Part(
        function_call=types.FunctionCall(name="f", args={"a": 1}), thought_signature=b"\x00sig"
    )
    (call,) = gemini_tool_calls([part, types.Part(text="x")])
    assert call.signature == base64.b64encode(b"\x00sig").decode()
    assert ToolCall.from_json(call.to_json()) == call  # records and the cache keep it
    sent = (Message("user", "hi"), Message("assistant", "", tool_calls=(call,)))
    _, sdk = gemini_contents(sent, raw_bytes=True)
    assert sdk[1]["parts"] == [
        {"function_call": {"name": "f", "args": {"a": 1}}, "thought_signature": b"\x00sig"}
    ]
    types.Content.model_validate(sdk[1])  # the SDK takes it
    _, rest = gemini_contents(sent)
    assert rest[1]["parts"][0]["thought_signature"] == call.signature
    unsigned = ToolCall.parse("c", "f", {})
    assert "signature" not in unsigned.to_json()  # records without one are as before
