"""A suite against llama.cpp's own OpenAI-compatible server: a real peer implementation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from promptbench.cli import app
from promptbench.providers.local import bundled_gguf
from tests.helpers.llama_server import LlamaServer
from tests.helpers.project import Project

# Each test that talks to a server runs once per transport (tests/conftest.py).
pytestmark = pytest.mark.each_transport

SYSTEM = "You answer questions with a single word. No sentence, no punctuation."


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LlamaServer]:
    with LlamaServer(bundled_gguf()) as server:
        yield server


def test_suite_runs_against_llama_cpp_server(project: Project, llama_server: LlamaServer) -> None:
    suite = project.suite(
        {
            "name": "llama-server",
            "prompts": {"guided": {"system": SYSTEM, "user": "{{ question }}"}},
            "models": {
                "smol": {
                    "provider": "openai",
                    "base_url": llama_server.url,
                    "model": "smollm2",
                    "temperature": 0,
                    "max_tokens": 8,
                }
            },
            "cases": [
                {"id": "france", "question": "What is the capital of France?", "expected": "Paris"},
                {"id": "japan", "question": "What is the capital of Japan?", "expected": "Tokyo"},
            ],
            "metrics": [{"icontains": "{{ expected }}"}],
            "gate": {"icontains": ">= 0.5"},
        }
    )
    result = CliRunner().invoke(app, ["run", str(suite), "--json", "-q"])
    assert result.exit_code == 0, result.output
    records = project.records()
    assert len(records) == 2
    for r in records:
        assert r["error"] is None
        assert r["usage"]["prompt_tokens"] > 10
        assert r["usage"]["completion_tokens"] > 0
        assert r["latency_ms"] > 0
    by_id = {r["case_id"]: r["output"].lower() for r in records}
    assert "paris" in by_id["france"]
    assert "tokyo" in by_id["japan"]
    # Cost is unknown for a self-hosted server, never made up.
    assert all(r["cost"] is None for r in records)
    # The server is a real separate process that answered over HTTP.
    assert llama_server.process.poll() is None
