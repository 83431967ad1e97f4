"""``promptbench import promptfoo-results``: bad input is one line and exit 2."""

from __future__ import annotations

import json

from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.project import Project


def test_not_a_results_file(project: Project) -> None:
    (project.root / "out.json").write_text(json.dumps({"results": []}))
    (project.root / "broken.json").write_text("{nope")
    for name, message in [
        ("missing.json", "no such file"),
        ("broken.json", "not JSON"),
        ("out.json", "not a promptfoo results file"),
    ]:
        result = invoke("import", "promptfoo-results", name)
        no_traceback(result)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (project.root / "runs").exists()


def test_results_of_another_config_are_refused(project: Project) -> None:
    config = {
        "prompts": ["Q: {{ q }}"],
        "providers": ["openai:gpt-4o-mini"],
        "tests": [{"vars": {"q": "a"}}],
    }
    result_of_other = {
        "testIdx": 0,
        "promptIdx": 0,
        "vars": {"q": "something else"},
        "testCase": {"vars": {"q": "something else"}},
        "success": True,
        "response": {"output": "x"},
    }
    out = {
        "config": config,
        "results": {
            "results": [result_of_other],
            "prompts": [{"raw": "Q: {{ q }}", "provider": "openai:gpt-4o-mini"}],
        },
    }
    (project.root / "out.json").write_text(json.dumps(out))
    result = invoke("import", "promptfoo-results", "out.json")
    no_traceback(result)
    assert result.exit_code == 2
    assert "is no test of the config" in result.stderr and "--config" in result.stderr
    assert not (project.root / "runs").exists()


def test_a_results_file_becomes_a_run(project: Project) -> None:
    config = {
        "prompts": ["Q: {{ q }}"],
        "providers": ["openai:gpt-4o-mini"],
        "tests": [{"vars": {"q": "a"}, "assert": [{"type": "contains", "value": "a"}]}],
    }
    component = {
        "pass": True,
        "score": 1,
        "reason": "ok",
        "assertion": config["tests"][0]["assert"][0],
    }
    out = {
        "evalId": "eval-1",
        "config": config,
        "metadata": {"promptfooVersion": "0.121.20"},
        "results": {
            "prompts": [{"raw": "Q: {{ q }}", "provider": "openai:gpt-4o-mini"}],
            "results": [
                {
                    "testIdx": 0,
                    "promptIdx": 0,
                    "vars": {"q": "a"},
                    "testCase": {"vars": {"q": "a"}, "assert": config["tests"][0]["assert"]},
                    "prompt": {"raw": "Q: a"},
                    "success": True,
                    "latencyMs": 12,
                    "failureReason": 0,
                    "gradingResult": {"pass": True, "componentResults": [component]},
                    "response": {"output": "Q: a", "tokenUsage": {"prompt": 2, "completion": 2}},
                }
            ],
        },
    }
    (project.root / "out.json").write_text(json.dumps(out))
    result = invoke("import", "promptfoo-results", "out.json", "--json")
    assert result.exit_code == 0, result.output
    run_dir = project.root / json.loads(result.stdout)["run_dir"]
    (record,) = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert record["case_id"] == "1" and record["variant"] == "prompt1"
    assert record["model"] == "gpt-4o-mini" and record["repeat"] == 0
    assert record["passed"] is True and record["latency_ms"] == 12
    assert record["scores"]["contains"]["passed"] is True
    assert record["messages"] == [{"role": "user", "content": "Q: a"}]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["options"]["imported_from"] == "promptfoo"
    assert meta["options"]["promptfoo_version"] == "0.121.20"


def test_a_failed_call_is_an_error_and_its_key_is_redacted(project: Project) -> None:
    config = {
        "prompts": ["Q: {{ q }}"],
        "providers": ["openai:gpt-4o-mini"],
        "tests": [{"vars": {"q": "a"}}],
    }
    out = {
        "config": config,
        "results": {
            "prompts": [{"raw": "Q: {{ q }}", "provider": "openai:gpt-4o-mini"}],
            "results": [
                {
                    "testIdx": 0,
                    "promptIdx": 0,
                    "vars": {"q": "a"},
                    "success": False,
                    "failureReason": 2,
                    "error": "401 Incorrect API key provided: sk-abcdefghijklmnop",
                    "response": {},
                }
            ],
        },
    }
    (project.root / "out.json").write_text(json.dumps(out))
    result = invoke("import", "promptfoo-results", "out.json", "--json")
    assert result.exit_code == 0, result.output
    run_dir = project.root / json.loads(result.stdout)["run_dir"]
    text = (run_dir / "records.jsonl").read_text()
    record = json.loads(text)
    assert record["passed"] is None and record["error"]["kind"] == "unknown"
    assert "401 Incorrect API key provided: [REDACTED]" in record["error"]["message"]
    assert "sk-abcdefghijklmnop" not in text


def test_results_of_a_left_out_provider_are_skipped_and_listed(project: Project) -> None:
    config = {
        "prompts": ["Q: {{ q }}"],
        "providers": ["openai:gpt-4o-mini", "file://custom.js"],
        "tests": [{"vars": {"q": "a"}}],
    }

    def result(prompt_idx: int) -> dict[str, object]:
        return {
            "testIdx": 0,
            "promptIdx": prompt_idx,
            "vars": {"q": "a"},
            "success": True,
            "response": {"output": "Q: a"},
        }

    out = {
        "config": config,
        "results": {
            "prompts": [
                {"raw": "Q: {{ q }}", "provider": "openai:gpt-4o-mini"},
                {"raw": "Q: {{ q }}", "provider": "file://custom.js"},
            ],
            "results": [result(0), result(1)],
        },
    }
    (project.root / "out.json").write_text(json.dumps(out))
    done = invoke("import", "promptfoo-results", "out.json", "--json")
    no_traceback(done)
    assert done.exit_code == 1
    report = json.loads(done.stdout)
    assert report["records"] == 1
    assert report["skipped"] == ["result of test 0: its prompt or provider was left out"]
