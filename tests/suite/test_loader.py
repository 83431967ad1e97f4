"""Loading a suite: every problem named with file:line:column, field and fix; prompts built."""

from __future__ import annotations

import textwrap

import pytest

from promptbench.errors import Issue, SuiteError, UsageError
from promptbench.providers.mock import MockConfig
from promptbench.providers.openai import OpenAIConfig
from promptbench.suite import Suite, load_suite
from promptbench.types import Case, Message
from tests.helpers.project import Project

SUITE = "suites/suite.yaml"


def write(project: Project, text: str) -> None:
    project.suite(textwrap.dedent(text).lstrip("\n"))


def load(project: Project, text: str) -> Suite:
    write(project, text)
    return load_suite(SUITE)


def issues(project: Project, text: str) -> list[str]:
    write(project, text)
    with pytest.raises(SuiteError) as info:
        load_suite(SUITE)
    assert info.value.exit_code == 2
    return [str(i) for i in info.value.issues]


def render(suite: Suite, variant: str, **vars: object) -> list[tuple[str, str]]:
    messages = suite.variants[variant].render(Case("c1", vars))
    return [(m.role, m.content) for m in messages]


# --------------------------------------------------------------------------- errors


def test_misspelled_model_field_names_position_field_and_suggestion(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts:
          a: "Hi {{ name }}"
        models:
          mini: {provider: mock, temprature: 0}
        cases:
          - {name: x}
        """,
    )
    assert got == [
        "suites/suite.yaml:5:26: models.mini.temprature: unknown field; did you mean 'temperature'?"
    ]


def test_misspelled_field_in_block_mapping(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          gpt:
            provider: openai
            model: gpt-4o-mini
            base_ur: http://localhost:1/v1
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:7:5: models.gpt.base_ur: unknown field; did you mean 'base_url'?"
    ]


def test_unknown_top_level_key(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        descripton: typo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        bogus: 1
        """,
    )
    assert got == [
        "suites/suite.yaml:2:1: descripton: unknown field; did you mean 'description'?",
        "suites/suite.yaml:6:1: bogus: unknown field; expected one of: cases, concurrency, "
        "description, gate, max_error_rate, metrics, models, name, probes, prompts, repeat, "
        "threshold, wandb",
    ]


def test_unknown_provider_suggests_the_near_one(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          m: {provider: mokc}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:4:17: models.m.provider: unknown provider 'mokc'; "
        "did you mean 'mock'? (promptbench providers lists them)"
    ]


def test_unknown_metric_suggests_the_near_one(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        metrics:
          - exact
          - jsonvalid
          - containz: foo
        """,
    )
    assert got == [
        "suites/suite.yaml:7:5: metrics[1]: unknown metric 'jsonvalid'; "
        "did you mean 'json_valid'? (promptbench metrics lists them)",
        "suites/suite.yaml:8:5: metrics[2].containz: unknown metric 'containz'; "
        "did you mean 'contains'? (promptbench metrics lists them)",
    ]


def test_bad_metric_parameters(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        metrics:
          - contains
          - regex: "("
          - exact: {normalize: [upper]}
          - [1]
        """,
    )
    assert got == [
        "suites/suite.yaml:6:5: metrics[0].value: required field is missing; add it",
        "suites/suite.yaml:7:12: metrics[1].regex.pattern: value error, invalid regular "
        "expression: missing ), unterminated subpattern at position 0 (got '(')",
        "suites/suite.yaml:8:25: metrics[2].exact.normalize[0]: input should be 'strip', "
        "'lower', 'collapse_whitespace' or 'strip_punctuation' (got 'upper')",
        "suites/suite.yaml:9:5: metrics[3]: a metric is a name (- json_valid) or a one-key "
        "mapping (- exact: {...})",
    ]


def test_wrong_type(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        repeat: many
        """,
    )
    assert got == [
        "suites/suite.yaml:5:9: repeat: input should be a valid integer, unable to parse "
        "string as an integer (got 'many')"
    ]


def test_out_of_range_model_field(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          m: {provider: mock, temperature: 3}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:4:36: models.m.temperature: input should be less than or equal "
        "to 2 (got 3)"
    ]


def test_missing_required_fields(project: Project) -> None:
    got = issues(
        project,
        """
        description: no name, no prompts
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:1:1: name: required field is missing; add it",
        "suites/suite.yaml:1:1: prompts: required field is missing; add it",
    ]


def test_suite_that_is_not_a_mapping(project: Project) -> None:
    assert issues(project, "- just\n- a list\n") == [
        "suites/suite.yaml:1: the suite is a list, not a mapping; a suite is a YAML mapping "
        "with name, prompts, models, cases and metrics"
    ]


def test_no_such_suite_file(project: Project) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite("suites/nope.yaml")
    assert str(info.value) == (
        "suites/nope.yaml: no such suite file; check the path (promptbench init scaffolds an "
        "example)"
    )


def test_missing_template_file(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts:
          a: prompts/missing.j2
          b: {file: prompts/gone.txt}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:3:6: prompts.a: template file 'prompts/missing.j2' not found "
        "(looked in suites and .); create it or fix the path",
        "suites/suite.yaml:4:13: prompts.b.file: template file 'prompts/gone.txt' not found "
        "(looked in suites and .); create it or fix the path",
    ]


def test_template_syntax_error_inline(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts:
          plain: "Hi {{ name }"
          block: |
            first line
            second {{ name }
          chat:
            system: ok
            user: "{% if x %}no end"
        models: {m: {provider: mock}}
        cases: [{name: x}]
        """,
    )
    assert got == [
        "suites/suite.yaml:3: prompts.plain: template syntax error: unexpected '}'",
        "suites/suite.yaml:6: prompts.block: template syntax error: unexpected '}'",
        "suites/suite.yaml:9: prompts.chat.user: template syntax error: Unexpected end of "
        "template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. "
        "The innermost block that needs to be closed is 'if'.",
    ]


def test_template_syntax_error_in_a_file_names_the_file_and_line(project: Project) -> None:
    project.write("prompts/bad.j2", "line one\nline two {{ name }\nline three\n")
    got = issues(
        project,
        """
        name: demo
        prompts:
          a: prompts/bad.j2
        models: {m: {provider: mock}}
        cases: [{name: x}]
        """,
    )
    assert got == ["prompts/bad.j2:2: template syntax error: unexpected '}'"]


def test_duplicate_keys_in_the_suite(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          m: {provider: mock}
          m: {provider: openai, model: x}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:5:3: models.m: duplicate key 'm' (first at line 4); "
        "YAML keeps only the last one, so remove one of them"
    ]


def test_yaml_syntax_error(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          m: {provider: mock
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:5:6: YAML syntax error: did not find expected ',' or '}' (while "
        "parsing a flow mapping that starts at line 4); check the indentation and quoting there"
    ]


def test_gate_errors(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        metrics: [exact]
        gate:
          exact: about 0.9
          passrate: 0.8
          pass_rate: [1]
        """,
    )
    assert got == [
        "suites/suite.yaml:7:10: gate.exact: cannot read the gate rule 'about 0.9'; "
        'write a comparison such as ">= 0.9"',
        "suites/suite.yaml:8:3: gate.passrate: 'passrate' is neither a metric of this suite "
        "nor a gate figure; did you mean 'pass_rate'?",
        "suites/suite.yaml:9:14: gate.pass_rate: cannot read the gate rule [1]; "
        'write a comparison such as ">= 0.9"',
    ]


def test_gate_rules_are_parsed(project: Project) -> None:
    suite = load(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        metrics: [exact]
        gate:
          exact: ">= 0.9"
          pass_rate: ">= 80%"
          error_rate: "< 5 %"
          latency_p95: 1500
        """,
    )
    rules = [(r.metric, r.op, r.value) for r in suite.gate]
    assert rules == [
        ("exact", ">=", 0.9),
        ("pass_rate", ">=", 0.8),
        ("error_rate", "<", 0.05),
        ("latency_p95", ">=", 1500.0),
    ]
    ge = suite.gate[0]
    assert ge.holds(0.9) and not ge.holds(0.89) and not ge.holds(None)
    assert suite.gate[2].holds(0.04) and not suite.gate[2].holds(0.05)


def test_missing_dataset_file(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: data/missing.jsonl
        """,
    )
    assert got == [
        "suites/suite.yaml:4:8: cases: dataset file 'data/missing.jsonl' not found; "
        "paths are relative to the suite"
    ]


def test_unknown_dataset_extension(project: Project) -> None:
    project.write("data/cases.txt", "q\n1\n")
    got = issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: data/cases.txt
        """,
    )
    assert got == [
        "data/cases.txt: unknown dataset format '.txt'; use .csv, .jsonl, .json, .yaml, .yml "
        "or .parquet"
    ]


def test_empty_datasets(project: Project) -> None:
    project.write("data/empty.jsonl", "\n\n")
    assert issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: data/empty.jsonl
        """,
    ) == ["data/empty.jsonl: the dataset has no cases; add at least one"]
    assert issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models: {m: {provider: mock}}
        cases: []
        """,
    ) == ["suites/suite.yaml:4:8: cases: the dataset has no cases; add at least one"]


def test_several_problems_are_all_reported_sorted_by_line(project: Project) -> None:
    write(
        project,
        """
        name: demo
        prompts:
          a: prompts/missing.j2
        models:
          m1: {provider: mock, temprature: 0}
          m2: {provider: opena, model: x}
        metrics:
          - exactt
        gate:
          exact: ">= 0.9"
        cases: [{q: 1}]
        """,
    )
    with pytest.raises(SuiteError) as info:
        load_suite(SUITE)
    found = info.value.issues
    assert [(i.line, i.field) for i in found] == [
        (3, "prompts.a"),
        (5, "models.m1.temprature"),
        (6, "models.m2.provider"),
        (8, "metrics[0]"),
        (10, "gate.exact"),
    ]
    assert all(isinstance(i, Issue) and i.file == SUITE for i in found)
    assert str(info.value) == "\n".join(str(i) for i in found)
    assert "did you mean 'openai'?" in found[2].message
    assert "did you mean 'exact'?" in found[3].message


def test_suite_error_is_a_usage_error() -> None:
    err = SuiteError([Issue("b.yaml", "x", 3), Issue("a.yaml", "y", 9), Issue("b.yaml", "z", 1)])
    assert isinstance(err, UsageError)
    assert [(i.file, i.line) for i in err.issues] == [("a.yaml", 9), ("b.yaml", 1), ("b.yaml", 3)]


# --------------------------------------------------------------------------- prompts


def test_template_file_under_prompts_is_found_from_suites(project: Project) -> None:
    project.write("prompts/triage.j2", "Route: {{ ticket }}\n")
    suite = load(
        project,
        """
        name: demo
        prompts:
          terse: prompts/triage.j2
          inline: "Ticket {{ ticket }}, please"
          text_only: Just say hi.
        models: {m: {provider: mock}}
        cases: [{ticket: printer on fire}]
        """,
    )
    assert render(suite, "terse", ticket="T-1") == [("user", "Route: T-1")]
    assert render(suite, "inline", ticket="T-1") == [("user", "Ticket T-1, please")]
    assert render(suite, "text_only") == [("user", "Just say hi.")]
    assert [p.name for p in suite.files] == ["triage.j2"]


def test_template_file_next_to_the_suite(project: Project) -> None:
    project.write("suites/local.txt", "local {{ x }}")
    suite = load(
        project,
        """
        name: demo
        prompts: {a: local.txt}
        models: {m: {provider: mock}}
        cases: [{x: 1}]
        """,
    )
    assert render(suite, "a", x=1) == [("user", "local 1")]


def test_chat_form_with_few_shot_turns(project: Project) -> None:
    project.write("prompts/guided.j2", "Ticket: {{ ticket }}")
    suite = load(
        project,
        """
        name: demo
        prompts:
          guided:
            system: You are {{ persona }}. Answer with one word.
            messages:
              - user: "Ticket: my card was charged twice"
              - assistant: billing
              - {role: user, content: "Ticket: {{ example }}"}
              - {role: assistant, content: tech}
            user: prompts/guided.j2
        models: {m: {provider: mock}}
        cases: [{persona: triage, example: e, ticket: t}]
        """,
    )
    assert render(suite, "guided", persona="a router", example="app crashes", ticket="T") == [
        ("system", "You are a router. Answer with one word."),
        ("user", "Ticket: my card was charged twice"),
        ("assistant", "billing"),
        ("user", "Ticket: app crashes"),
        ("assistant", "tech"),
        ("user", "Ticket: T"),
    ]


def test_file_and_template_forms(project: Project) -> None:
    project.write("prompts/a.j2", "from file {{ x }}")
    suite = load(
        project,
        """
        name: demo
        prompts:
          f: {file: prompts/a.j2}
          t: {template: "inline {{ x }}"}
          looks_like_a_path: {template: prompts/a.j2}
        models: {m: {provider: mock}}
        cases: [{x: 1}]
        """,
    )
    assert render(suite, "f", x=2) == [("user", "from file 2")]
    assert render(suite, "t", x=2) == [("user", "inline 2")]
    # template: is always the text itself, even when it looks like a file name.
    assert render(suite, "looks_like_a_path") == [("user", "prompts/a.j2")]


def test_prompt_shape_errors(project: Project) -> None:
    got = issues(
        project,
        """
        name: demo
        prompts:
          both:
            file: prompts/a.j2
            user: hi
          empty: {}
          ends_with_assistant:
            messages:
              - user: q
              - assistant: a
          bad_role:
            messages:
              - usr: q
          two_keys:
            messages:
              - {user: q, assistant: a}
          not_text: 3
          unknown_key: {usr: hi}
        models: {m: {provider: mock}}
        cases: [{q: 1}]
        """,
    )
    assert got == [
        "suites/suite.yaml:4:5: prompts.both: give either file, or template, or chat "
        "messages (system/user)",
        "suites/suite.yaml:6:10: prompts.empty: the prompt has no messages; add user:",
        "suites/suite.yaml:8:5: prompts.ends_with_assistant: the last message is the "
        "assistant's; end with a user message",
        "suites/suite.yaml:13:9: prompts.bad_role.messages[0]: unknown role 'usr'; "
        "did you mean 'user'?",
        "suites/suite.yaml:16:9: prompts.two_keys.messages[0]: a message is {user: text} "
        "or {role: user, content: text}",
        "suites/suite.yaml:17:13: prompts.not_text: a prompt is a template (text or a file) "
        "or a mapping with system/user",
        "suites/suite.yaml:18:17: prompts.unknown_key.usr: unknown field; did you mean 'user'?",
    ]


# --------------------------------------------------------------------------- the rest


def test_models_get_their_provider_config(project: Project) -> None:
    suite = load(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          gpt: {model: gpt-4o-mini, temperature: 0, base_url: "http://localhost:8000/v1/"}
          fake: {provider: mock, replies: [sure]}
        cases: [{q: 1}]
        repeat: 3
        concurrency: 4
        max_error_rate: 0.25
        """,
    )
    gpt, fake = suite.models["gpt"], suite.models["fake"]
    assert isinstance(gpt, OpenAIConfig)
    assert (gpt.provider, gpt.model, gpt.temperature) == ("openai", "gpt-4o-mini", 0)
    assert gpt.base_url == "http://localhost:8000/v1"
    assert isinstance(fake, MockConfig)
    assert fake.replies == ["sure"]
    assert (suite.repeat, suite.concurrency, suite.max_error_rate) == (3, 4, 0.25)


def test_api_key_file_is_resolved_or_reported(project: Project) -> None:
    project.write("suites/key.txt", "sk-test\n")
    suite = load(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          gpt: {model: m, api_key_file: key.txt}
        cases: [{q: 1}]
        """,
    )
    gpt = suite.models["gpt"]
    assert isinstance(gpt, OpenAIConfig)
    assert gpt.api_key_file == str((project.root / "suites" / "key.txt").resolve())
    assert gpt.resolve_api_key() == "sk-test"
    assert issues(
        project,
        """
        name: demo
        prompts: {a: hi}
        models:
          gpt: {model: m, api_key_file: nokey.txt}
        cases: [{q: 1}]
        """,
    ) == [
        "suites/suite.yaml:4:33: models.gpt.api_key_file: file 'nokey.txt' not found; "
        "paths are relative to the suite"
    ]


def test_metric_names_and_order(project: Project) -> None:
    suite = load(
        project,
        """
        name: demo
        prompts:
          a: hi
          b:
            user: hi
            metrics: [json_valid, {contains: x}]
        models: {m: {provider: mock}}
        cases:
          - {id: one, q: 1, metrics: [{regex: "^a"}]}
        metrics:
          - contains: foo
          - contains: {value: bar, name: has_bar, weight: 2, threshold: 0.5}
        """,
    )
    assert [(m.kind, m.name, m.weight, m.threshold) for m in suite.metrics] == [
        ("contains", "contains", 1.0, None),
        ("contains", "has_bar", 2.0, 0.5),
    ]
    assert suite.metrics[0].params == {"value": "foo"}
    assert suite.metric_names == ["contains", "has_bar", "json_valid", "contains_2"]
    case = next(iter(suite.cases))
    names = [m.name for m in suite.metrics_for(suite.variants["b"], case)]
    assert names == ["contains", "has_bar", "json_valid", "contains_2", "regex"]
    assert [m.name for m in suite.metrics_for(suite.variants["a"], case)] == [
        "contains",
        "has_bar",
        "regex",
    ]


def test_hash_covers_the_files_the_suite_names(project: Project) -> None:
    project.write("prompts/p.j2", "v1 {{ q }}")
    project.jsonl("data/c.jsonl", [{"q": 1}])
    text = """
        name: demo
        prompts: {a: prompts/p.j2}
        models: {m: {provider: mock}}
        cases: data/c.jsonl
        """
    first = load(project, text)
    assert sorted(p.name for p in first.files) == ["c.jsonl", "p.j2"]
    assert load(project, text).hash == first.hash
    project.write("prompts/p.j2", "v2 {{ q }}")
    assert load(project, text).hash != first.hash


def test_render_of_a_loaded_suite_returns_messages(project: Project) -> None:
    suite = load(
        project,
        """
        name: demo
        prompts: {a: "Q: {{ q }}"}
        models: {m: {provider: mock}}
        cases: [{q: two}]
        """,
    )
    case = next(iter(suite.cases))
    assert suite.variants["a"].render(case) == (Message("user", "Q: two"),)
    assert suite.check_render() == []
