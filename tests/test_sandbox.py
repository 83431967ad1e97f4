"""Templates run in Jinja2's sandbox: injection payloads fail with one clear line, and never run.

Each payload would create a marker file if it ran (``os.system('touch ...')``,
``open(...).write``, ``subprocess.Popen``); the tests put it where suites put
templates (a variant, a template file, a metric parameter) and where they put
data (a case var, which must be inserted as text), and check the marker is
never created. A control test renders the same payloads with a plain,
unsandboxed Jinja2 environment and sees the marker appear: the payloads are
live, and only the sandbox stops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pytest

from promptbench.errors import RenderError
from promptbench.render import Renderer
from tests.helpers.e2e import echo_suite, invoke, no_traceback, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

MARKER = "PWNED"  # created in the working directory (the test's project) if a payload runs
SANDBOX = "unsafe operation blocked by the sandbox: access to attribute"
FIX = "templates may only use the case's values, filters and tests"


def blocked(attribute: str, owner: str) -> str:
    return f"{SANDBOX} '{attribute}' of '{owner}' object is unsafe; {FIX}"


def undefined(name: str) -> str:
    return f"undefined variable '{name}'; add it to the case's vars or fix the template"


@dataclass(frozen=True)
class Payload:
    name: str
    source: str  # {m}: the marker's path
    error: str  # what the one line says after "template <origin>:1: "
    runs_unsandboxed: bool = False  # the control test shows it creating the marker

    def text(self, marker: Path) -> str:
        return self.source.replace("{m}", str(marker))


PAYLOADS = [
    Payload("class", "{{ q.__class__ }}", blocked("__class__", "str")),
    Payload("mro", "{{ ''.__class__.__mro__ }}", blocked("__class__", "str")),
    Payload(
        "subclasses",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
        "{% if c.__name__ == 'Popen' %}{{ c(['touch', '{m}']).wait() }}{% endif %}{% endfor %}",
        blocked("__class__", "str"),
    ),
    Payload("subscript", "{{ q['__class__'] }}", blocked("__class__", "str")),
    Payload("attr_filter", "{{ q | attr('__class__') }}", blocked("__class__", "str")),
    Payload(
        "cycler_globals",
        "{{ cycler.__init__.__globals__.os.system('touch {m}') }}",
        blocked("__init__", "type"),
        runs_unsandboxed=True,
    ),
    Payload(
        "lipsum_globals",
        "{{ lipsum.__globals__['os'].popen('touch {m}').read() }}",
        blocked("__globals__", "function"),
        runs_unsandboxed=True,
    ),
    Payload(
        "lipsum_builtins_import",
        "{{ lipsum.__globals__.__builtins__.__import__('os').system('touch {m}') }}",
        blocked("__globals__", "function"),
        runs_unsandboxed=True,
    ),
    Payload(
        "lipsum_builtins_open",
        "{{ lipsum.__globals__.__builtins__.open('{m}', 'w').write('x') }}",
        blocked("__globals__", "function"),
        runs_unsandboxed=True,
    ),
    Payload(
        "lipsum_attr_filter",
        "{{ (lipsum | attr('__globals__')).os.system('touch {m}') }}",
        blocked("__globals__", "function"),
        runs_unsandboxed=True,
    ),
    Payload(
        "joiner_globals",
        "{{ joiner.__init__.__globals__.os.system('touch {m}') }}",
        blocked("__init__", "type"),
        runs_unsandboxed=True,
    ),
    Payload(
        "template_reference_context",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('touch {m}') }}",
        blocked("_TemplateReference__context", "TemplateReference"),
        runs_unsandboxed=True,
    ),
    Payload(
        "self_globals",
        "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch {m}') }}",
        blocked("__init__", "TemplateReference"),
        runs_unsandboxed=True,
    ),
    Payload("bare_import", "{{ __import__('os').system('touch {m}') }}", undefined("__import__")),
    Payload("os_system", "{{ os.system('touch {m}') }}", undefined("os")),
    Payload(
        "subprocess_popen", "{{ subprocess.Popen(['touch', '{m}']) }}", undefined("subprocess")
    ),
    Payload(
        "config_class",
        "{{ config.__class__.__init__.__globals__['os'].system('touch {m}') }}",
        blocked("__init__", "StrictUndefined"),
    ),
    Payload(
        "request_application",
        "{{ request.application.__globals__.__builtins__.__import__('os').system('touch {m}') }}",
        undefined("request"),
    ),
    Payload(
        "format_string",
        "{{ '{0.__class__.__init__.__globals__}'.format(q) }}",
        blocked("__init__", "StrictUndefined"),
    ),
    Payload(
        "include_traversal",
        "{% include '../../../../../../etc/passwd' %}",
        "template '../../../../../../etc/passwd' not found; include and import look in the "
        "suite's directory, the one above it, and prompts/ in either",
    ),
]
IDS = [p.name for p in PAYLOADS]


@pytest.fixture
def marker(project: Project) -> Path:
    return project.root / MARKER


def _suite(url: str, **parts: Any) -> dict[str, Any]:
    return echo_suite(url, cases=[{"id": "a", "q": "x"}], **parts)


def _fails_cleanly(
    project: Project, loopback: LoopbackServer, marker: Path, expected_line: str
) -> None:
    """validate and run: exit 2, exactly this line on stderr, no model call, nothing written."""
    for command in (["validate"], ["run", "--csv", "results.csv"]):
        result = invoke(command[0], "suites/suite.yaml", *command[1:])
        no_traceback(result)
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [expected_line]
        assert result.stdout == ""
    assert not marker.exists()
    assert not (project.root / "runs").exists()
    assert not (project.root / "results.csv").exists()
    assert loopback.stats()["requests"] == 0


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_a_payload_as_a_variant_template_is_refused(
    payload: Payload, project: Project, loopback: LoopbackServer, marker: Path
) -> None:
    project.suite(_suite(loopback.url, prompts={"p": payload.text(marker)}))
    expected = f"suites/suite.yaml: case 'a', variant 'p': template prompts.p:1: {payload.error}"
    _fails_cleanly(project, loopback, marker, expected)


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_a_payload_in_a_metric_parameter_is_refused(
    payload: Payload, project: Project, loopback: LoopbackServer, marker: Path
) -> None:
    project.suite(_suite(loopback.url, metrics=[{"contains": payload.text(marker)}]))
    expected = (
        f"suites/suite.yaml: case 'a', metric 'contains': template contains.value:1: "
        f"{payload.error}"
    )
    _fails_cleanly(project, loopback, marker, expected)


@pytest.mark.parametrize("payload", PAYLOADS[5:7], ids=IDS[5:7])
def test_a_payload_in_a_template_file_is_refused_naming_the_file_and_line(
    payload: Payload, project: Project, loopback: LoopbackServer, marker: Path
) -> None:
    project.write("prompts/evil.j2", "Question:\n\n" + payload.text(marker) + "\n")
    project.suite(_suite(loopback.url, prompts={"p": "prompts/evil.j2"}))
    expected = (
        f"suites/suite.yaml: case 'a', variant 'p': template prompts/evil.j2:3: {payload.error}"
    )
    _fails_cleanly(project, loopback, marker, expected)


def test_payloads_in_case_vars_are_inserted_as_text_and_never_run(
    project: Project, loopback: LoopbackServer, marker: Path
) -> None:
    loopback.configure(record_requests=200)
    texts = {p.name: p.text(marker) for p in PAYLOADS}
    project.suite(
        echo_suite(
            loopback.url,
            cases=[{"id": name, "q": text} for name, text in texts.items()],
            prompts={
                "plain": "Q: {{ q }}",  # plain substitution
                "jinja": "Q: {{ q | trim }}{% if q %}{% endif %}",  # through Jinja2
                "chat": {"system": "{{ q }}", "user": "Q: {{ q }}"},
            },
            metrics=[{"exact": "Q: {{ q }}"}, {"contains": "{{ q }}"}],
        )
    )
    result = invoke("run", "suites/suite.yaml", "--csv", "results.csv")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert not marker.exists()

    recs = records(project.runs[-1])
    assert len(recs) == 3 * len(PAYLOADS)
    for r in recs:
        text = texts[r["case_id"]]
        assert r["error"] is None
        assert r["messages"][-1]["content"] == f"Q: {text}"  # the payload, verbatim
        assert r["output"] == f"Q: {text}"
        assert r["passed"] is True  # the metrics' parameters got the text too
    # What went over the wire is the text, too.
    sent = [req["body"]["messages"] for req in loopback.requests()]
    assert len(sent) == 3 * len(PAYLOADS)
    assert sorted(m[-1]["content"] for m in sent) == sorted(
        f"Q: {t}" for t in texts.values() for _ in range(3)
    )


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_the_renderer_raises_render_error_for_every_payload(
    payload: Payload, tmp_path: Path
) -> None:
    marker = tmp_path / MARKER
    template = Renderer([tmp_path]).from_string(payload.text(marker), "t")
    with pytest.raises(RenderError) as info:
        template.render({"q": "x"}, where="case 'a'")
    assert str(info.value) == f"case 'a': template t:1: {payload.error}"
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload", [p for p in PAYLOADS if p.runs_unsandboxed], ids=lambda p: p.name
)
def test_control_the_payloads_do_run_without_the_sandbox(payload: Payload, tmp_path: Path) -> None:
    marker = tmp_path / MARKER
    jinja2.Environment().from_string(payload.text(marker)).render(q="x")
    assert marker.exists(), "the payload is not live: the sandbox tests would prove nothing"


@pytest.mark.parametrize(
    "source",
    ["{{ 'a' * 10**9 }}", "{{ [0] * 10**8 }}", "{{ 10 ** 10000000 }}", "{{ (q ~ q) * 10**9 }}"],
)
def test_arithmetic_that_would_exhaust_memory_is_refused(source: str) -> None:
    from promptbench.errors import RenderError
    from promptbench.render import Renderer

    with pytest.raises(RenderError, match="unsafe operation blocked by the sandbox"):
        Renderer().from_string(source, "t").render({"q": "x"}, where="case 'a'")


def test_ordinary_arithmetic_still_works() -> None:
    from promptbench.render import Renderer

    assert Renderer().from_string("{{ '-' * 3 }}{{ 2 ** 10 }}", "t").render({}, where="c") == (
        "---1024"
    )
