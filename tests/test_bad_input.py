"""Bad input: every broken suite, dataset, template and option fails cleanly.

Each directory under ``tests/fixtures/bad/`` is a small project (``suites/suite.yaml``
and the files it names) that is broken in one way, with an ``expect.txt``::

    # what is wrong
    command: run suites/suite.yaml -v nope
    exit: 2
    error: suites/suite.yaml:3:10: prompts.plain: ...
    regex: data/cases\\.jsonl:2:\\d+: invalid JSON: .+

``#`` lines are comments. ``command`` lines (optional, repeatable) give the
commands to try; without them, ``validate`` and ``run --csv results.csv``. Each
``error`` is one line of stderr, exactly; each ``regex`` one line, matched whole;
``contains`` (used alone, for Click's boxed usage errors) a text some line holds.

The error lines are all of stderr, in order. Every command must exit with the
code, print no traceback and nothing on stdout, and leave no partial result:
the project's files are unchanged (no run directory, no CSV, no cache) and the
loopback server, which every fixture's models point at, got no request.

Huge inputs are generated here rather than kept as fixtures (see ``GENERATED``).
A property-based test then feeds random suites, datasets and templates to the
loader: it may only succeed or raise a UsageError (SuiteError, RenderError, ...).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptbench.errors import UsageError
from promptbench.metrics import metrics as metric_registry
from promptbench.providers import providers as provider_registry
from promptbench.suite import load_suite
from promptbench.suite.cases import MAX_WHOLE_FILE_BYTES
from promptbench.suite.loader import MAX_SUITE_BYTES
from tests.helpers.e2e import invoke
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

FIXTURES = Path(__file__).parent / "fixtures" / "bad"
PLACEHOLDER = b"@LOOPBACK@"  # the fixtures' base_url, replaced by the server's
DEFAULT_COMMANDS = ("validate suites/suite.yaml", "run suites/suite.yaml --csv results.csv")

# --------------------------------------------------------------------------- huge inputs

STREAMED_ROWS = 50_000


def _huge_suite(root: Path) -> None:
    """A suite 1 MB over the size limit: real YAML, padded with a comment block."""
    path = root / "suites" / "suite.yaml"
    line = b"# " + b"padding " * 12 + b"\n"
    with path.open("ab") as fh:
        while fh.tell() <= MAX_SUITE_BYTES + 1_000_000:
            fh.write(line * 1000)


def _huge_dataset_whole(root: Path) -> None:
    """A YAML dataset (read whole) twice its limit: sparse, so it costs no disk."""
    path = root / "data" / "cases.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"- {id: a, q: one}\n")
    with path.open("r+b") as fh:
        fh.truncate(2 * MAX_WHOLE_FILE_BYTES)


def _huge_dataset_streamed(root: Path) -> None:
    """A JSONL dataset of 50,000 rows whose last row repeats an id: found, with its line."""
    rows = [json.dumps({"id": f"c{i}", "q": f"question {i}"}) for i in range(STREAMED_ROWS)]
    rows.append(json.dumps({"id": "c5", "q": "again"}))
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "cases.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


GENERATED: dict[str, Callable[[Path], None]] = {
    "huge_suite": _huge_suite,
    "huge_dataset_whole": _huge_dataset_whole,
    "huge_dataset_streamed": _huge_dataset_streamed,
}

# --------------------------------------------------------------------------- the catalogue


@dataclass
class Expect:
    """What ``expect.txt`` says a case must give."""

    commands: list[list[str]]
    exit_code: int
    lines: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    @classmethod
    def read(cls, path: Path) -> Expect:
        commands: list[list[str]] = []
        exit_code: int | None = None
        lines: list[tuple[str, str]] = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            key, sep, value = raw.partition(": ")
            assert sep, f"{path}: cannot read {raw!r}"
            if key == "command":
                commands.append(shlex.split(value))
            elif key == "exit":
                exit_code = int(value)
            elif key in ("error", "regex", "contains"):
                lines.append((key, value))
            else:
                raise AssertionError(f"{path}: unknown key {key!r}")
        assert exit_code is not None, f"{path}: no exit code"
        assert lines, f"{path}: no expected error"
        return cls(commands or [shlex.split(c) for c in DEFAULT_COMMANDS], exit_code, lines)


CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expect.txt").is_file())


def test_the_catalogue_is_complete() -> None:
    assert len(CASES) >= 40
    missing = sorted(set(GENERATED) - set(CASES))
    assert missing == []
    for name in CASES:
        assert (FIXTURES / name / "suites" / "suite.yaml").is_file(), name


def _snapshot(root: Path) -> dict[str, object]:
    """Every file and directory under ``root``: contents, or size and time for huge files."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        stat = p.stat()
        if p.is_dir():
            out[str(p.relative_to(root))] = "<dir>"
        elif stat.st_size > 10_000_000:
            out[str(p.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
        else:
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def _check_stderr(stderr: str, expect: Expect, where: str) -> None:
    got = stderr.splitlines()
    kinds = {k for k, _ in expect.lines}
    if kinds == {"contains"}:  # Click's own usage error: a box around the message
        for _, text in expect.lines:
            assert any(text in line for line in got), f"{where}: {text!r} not in {got}"
        return
    assert len(got) == len(expect.lines), f"{where}: stderr was\n{stderr}"
    for line, (kind, text) in zip(got, expect.lines, strict=True):
        if kind == "error":
            assert line == text, where
        elif kind == "regex":
            assert re.fullmatch(text, line), f"{where}: {line!r} !~ {text!r}"
        else:
            raise AssertionError(f"{where}: mix 'contains' with nothing else")


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_line_per_problem_and_exit_2(
    name: str, project: Project, loopback: LoopbackServer
) -> None:
    root = project.root
    shutil.copytree(FIXTURES / name, root, dirs_exist_ok=True)
    (root / "expect.txt").unlink()
    for path in root.rglob("*"):
        if path.is_file() and PLACEHOLDER in (data := path.read_bytes()):
            path.write_bytes(data.replace(PLACEHOLDER, loopback.url.encode()))
    if name in GENERATED:
        GENERATED[name](root)
    expect = Expect.read(FIXTURES / name / "expect.txt")
    before = _snapshot(root)
    for command in expect.commands:
        where = f"{name}: promptbench {shlex.join(command)}"
        result = invoke(*command)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where}: {type(result.exception).__name__}: {result.exception}"
        )
        assert "Traceback" not in result.output, where
        assert result.exit_code == expect.exit_code, f"{where}: {result.output}"
        assert result.stdout == "", f"{where}: stdout was\n{result.stdout}"
        _check_stderr(result.stderr, expect, where)
        assert _snapshot(root) == before, f"{where}: files were written or changed"
    assert loopback.stats()["requests"] == 0


def test_a_bad_suite_among_good_ones_stops_the_run_before_any_call(
    project: Project, loopback: LoopbackServer
) -> None:
    shutil.copytree(FIXTURES / "unknown_metric", project.root, dirs_exist_ok=True)
    bad = project.root / "suites" / "suite.yaml"
    bad.write_bytes(bad.read_bytes().replace(PLACEHOLDER, loopback.url.encode()))
    good = bad.with_name("good.yaml")
    good.write_text(bad.read_text(encoding="utf-8").replace("exakt", "exact"), encoding="utf-8")
    assert invoke("validate", "suites/good.yaml").exit_code == 0
    result = invoke("run", "suites/good.yaml", "suites/suite.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("suites/suite.yaml:13:5: metrics[0].exakt: unknown metric")
    assert not (project.root / "runs").exists()
    assert loopback.stats()["requests"] == 0


# --------------------------------------------------------------------------- random suites
#
# Examples start from a valid suite and break some of it: each section is either
# the valid one or a random one (known fields with random values, unknown fields,
# wrong types, random nesting), templates are random text with Jinja fragments,
# datasets are random rows, and the YAML text itself is sometimes damaged.

METRICS = metric_registry.names()
PROVIDERS = [*provider_registry.names(), "opneai"]
METRIC_FIELDS = sorted(
    {f for n in METRICS for f in metric_registry.get(n).params.model_fields} | {"ref"}
)
MODEL_FIELDS = sorted(
    {f for n in provider_registry.names() for f in provider_registry.get(n).config.model_fields}
)
SUITE_FIELDS = [
    "name",
    "description",
    "prompts",
    "models",
    "cases",
    "metrics",
    "gate",
    "repeat",
    "concurrency",
    "threshold",
    "max_error_rate",
    "wandb",
]
PROMPT_FIELDS = ["system", "user", "messages", "file", "template", "metrics"]
CASE_FIELDS = ["id", "vars", "expected", "metadata", "metrics", "threshold", "q"]
GATE_KEYS = [*METRICS, "pass_rate", "error_rate", "latency_p50", "total_cost", "regression"]
FILES = [
    "prompts/p.j2",
    "p.j2",
    "nope.j2",
    "data/cases.jsonl",
    "data/cases.csv",
    "data/cases.json",
    "data/cases.yaml",
    "data/nope.jsonl",
    "checks.py",
    "checks.py:check",
    "checks.py:nope",
    "schema.json",
    "key.txt",
    "../suites",
    "/dev/null",
]
JINJA = [
    "{{ q }}",
    "{{ expected }}",
    "{{ nope }}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "{{ q | upper }}",
    "{{ q.x.y }}",
    "{% if q %}",
    "{% endif %}",
    "{% for x in q %}{{ x }}{% endfor %}",
    "{{ 1 / 0 }}",
    "{{ q[0] }}",
    "{{ ''.__class__ }}",
    "{{ lipsum.__globals__ }}",
    "{% include 'nope.j2' %}",
    "{% include 'p.j2' %}",
    "{% import 'p.j2' as m %}",
    "{% extends 'p.j2' %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% set x = q * 3 %}{{ x }}",
    "{% raw %}{{ q }}{% endraw %}",
    "{{ range(10) | list }}",
    "{{ q | int }}",
    "{{ metadata.k }}",
    "{{ case_id }}",
]

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
templates = st.lists(st.one_of(st.sampled_from(JINJA), texts), max_size=4).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    templates,
    st.sampled_from(FILES),
)
keys = st.one_of(
    st.sampled_from(SUITE_FIELDS + MODEL_FIELDS + METRIC_FIELDS + PROMPT_FIELDS + METRICS),
    texts,
    st.integers(-3, 3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (last: Hypothesis favours the first)."""
    return st.sampled_from([False] * (n - 1) + [True])


def mapping(fields: list[str], value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Some known fields with random values, and sometimes an unknown field."""
    known = st.dictionaries(st.sampled_from(fields), value, max_size=3)
    extra = st.dictionaries(keys, values, max_size=1)
    return st.tuples(known, extra, st.booleans()).map(lambda t: {**t[0], **t[1]} if t[2] else t[0])


metric_params = st.one_of(templates, values, mapping(METRIC_FIELDS, st.one_of(templates, values)))
metric_entries = st.one_of(
    st.sampled_from(METRICS),
    st.dictionaries(
        st.sampled_from([*METRICS, "not_", "exakt"]), metric_params, min_size=1, max_size=1
    ),
    values,
)
metric_lists = st.one_of(st.lists(metric_entries, max_size=3), values)
turns = st.dictionaries(
    st.sampled_from(["user", "assistant", "system", "role", "content", "tool"]),
    templates,
    max_size=2,
)
prompts = st.one_of(
    templates,
    st.sampled_from(FILES),
    st.fixed_dictionaries(
        {},
        optional={
            "system": templates,
            "user": st.one_of(templates, st.sampled_from(FILES)),
            "messages": st.one_of(st.lists(turns, max_size=3), values),
            "file": st.sampled_from(FILES),
            "template": templates,
            "metrics": metric_lists,
        },
    ),
    values,
)
model_values = st.one_of(
    values, st.sampled_from(["mock", "openai", "local", "http://127.0.0.1:9/v1", "json_object"])
)
models = st.one_of(
    st.builds(
        lambda provider, rest: {"provider": provider, **rest},
        st.sampled_from(PROVIDERS),
        mapping(MODEL_FIELDS, model_values),
    ),
    values,
)
case_rows = st.one_of(
    st.dictionaries(st.sampled_from(CASE_FIELDS), st.one_of(templates, values), max_size=4),
    st.fixed_dictionaries(
        {"vars": st.dictionaries(st.sampled_from(["q", "x", "my-var", "1"]), values, max_size=3)},
        optional={"id": values, "metrics": metric_lists, "expected": values},
    ),
    values,
)
gate_rules = st.one_of(
    st.sampled_from([">= 0.9", "> 1", "<= 50%", "== 1", "at least 0.9", ">=", "0.5"]),
    values,
)
GOOD: dict[str, Any] = {
    "name": "s",
    "prompts": {"p": "Q: {{ q }}"},
    "models": {"m": {"provider": "mock"}},
    "cases": [{"id": "a", "q": "x"}, {"id": "b", "q": "y"}],
    "metrics": [{"exact": "Q: {{ q }}"}],
}
SECTIONS: dict[str, st.SearchStrategy[Any]] = {
    "name": values,
    "prompts": st.one_of(st.dictionaries(texts, prompts, max_size=3), values),
    "models": st.one_of(st.dictionaries(texts, models, min_size=1, max_size=2), values),
    "cases": st.one_of(st.lists(case_rows, max_size=4), st.sampled_from(FILES), values),
    "metrics": metric_lists,
    "gate": st.one_of(st.dictionaries(st.sampled_from(GATE_KEYS), gate_rules, max_size=3), values),
    "repeat": values,
    "concurrency": values,
    "threshold": values,
    "max_error_rate": values,
    "wandb": values,
    "description": values,
    "extra": values,  # an unknown top-level key
}


@st.composite
def suites(draw: st.DrawFn) -> dict[str, Any]:
    """The valid suite with one to three sections replaced (or removed)."""
    broken = draw(st.lists(st.sampled_from(sorted(SECTIONS)), min_size=1, max_size=3))
    suite = dict(GOOD)
    for name in broken:
        if draw(one_in(8)):
            suite.pop(name, None)
        else:
            suite[name] = draw(SECTIONS[name])
    return suite


# Damage to YAML text: syntax that breaks or changes the document.
YAML_BITS = [
    "{",
    "}",
    "[",
    "]",
    ":",
    ": ",
    "- ",
    "\t",
    '"',
    "'",
    "&a ",
    "*a",
    "!!",
    "\n",
    "  ",
    "#",
    "|",
    ">",
    "%",
    "@",
    "`",
    "\x85",
    "\ufeff",
]


@dataclass
class Example:
    """What one example writes: the suite's bytes and the files it may name."""

    suite: bytes
    files: dict[str, bytes]


def _damage(text: str, cuts: list[tuple[int, str]]) -> str:
    for pos, bit in cuts:
        at = pos % (len(text) + 1)
        text = text[:at] + bit + text[at:]
    return text


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def projects(draw: st.DrawFn) -> Example:
    suite = draw(values if draw(one_in(10)) else suites())
    text = _dump(suite)
    if draw(one_in(4)):
        cut = st.tuples(st.integers(0, 10_000), st.sampled_from(YAML_BITS))
        text = _damage(text, draw(st.lists(cut, min_size=1, max_size=3)))
    raw = text.encode("utf-8")
    if draw(one_in(20)):
        raw = raw[: draw(st.integers(0, len(raw)))] + b"\xff\xfe" + raw
    rows = st.lists(case_rows, max_size=4)
    csv_text = st.lists(
        st.lists(
            st.one_of(texts, st.sampled_from(['"', ",", '"a,b"', "\n", "id", "q"])), max_size=4
        ),
        max_size=4,
    ).map(lambda rs: "\n".join(",".join(r) for r in rs))
    yaml_cut = st.tuples(st.integers(0, 500), st.sampled_from(YAML_BITS))
    files = {
        "data/cases.jsonl": "\n".join(
            draw(st.lists(st.one_of(case_rows.map(json.dumps), texts), max_size=4))
        ),
        "data/cases.csv": draw(csv_text),
        "data/cases.json": draw(st.one_of(rows, values).map(json.dumps)),
        "data/cases.yaml": _damage(
            _dump(draw(st.one_of(rows, values))), draw(st.lists(yaml_cut, max_size=1))
        ),
        "prompts/p.j2": draw(templates),
        "schema.json": draw(st.one_of(values.map(json.dumps), texts)),
        "key.txt": draw(texts),
    }
    return Example(raw, {k: v.encode("utf-8") for k, v in files.items()})


CHECKS = "def check(output):\n    return True\n"


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every machine and every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(projects())
def test_random_suites_load_or_fail_with_a_usage_error(example: Example) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "suites").mkdir()
        for rel, data in example.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        (root / "suites" / "checks.py").write_text(CHECKS, encoding="utf-8")
        path = root / "suites" / "suite.yaml"
        path.write_bytes(example.suite)
        try:
            suite = load_suite(path)
            suite.render_issues()
        except UsageError as exc:
            assert str(exc).strip(), "an error without a message"
            assert "Traceback" not in str(exc)


TEMPLATE_BITS = [*JINJA, "{{ ", " }}", "{% ", " %}", "|", ".", "(", ")", "[", "]", "'", '"', "\n"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    source=st.lists(st.one_of(st.sampled_from(TEMPLATE_BITS), texts), max_size=8).map("".join),
    context=st.dictionaries(st.sampled_from(["q", "x", "expected", "metadata"]), values),
)
def test_random_templates_render_or_fail_with_a_render_error(
    source: str, context: dict[str, Any]
) -> None:
    from promptbench.render import Renderer

    try:
        Renderer([FIXTURES]).from_string(source, "prompts.p").render(context, where="case 'a'")
    except UsageError as exc:
        assert str(exc).strip()
