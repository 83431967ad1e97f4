"""A promptfoo config as a promptbench suite: ``promptbench import promptfoo``.

:func:`convert_config` reads a ``promptfooconfig.yaml`` (and the files it names)
and returns the suite's YAML text, the files to write beside it, and one
:class:`LeftOut` per thing the suite does not have. It writes nothing; the
command does. The same conversion, run on the config inside a promptfoo results
file, tells the results importer which case, variant and model each result is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.errors import UsageError
from promptbench.importers import promptfoo_asserts as asserts
from promptbench.importers.nunjucks import to_jinja
from promptbench.importers.promptfoo_asserts import AssertContext, LeftOut
from promptbench.importers.promptfoo_prompts import (
    Models,
    ModelSource,
    PromptSource,
    grader,
    load_prompts,
    load_providers,
    slug,
    unique,
)
from promptbench.importers.promptfoo_tests import Test, expand, load_tests, var_combinations
from promptbench.importers.yamltext import Noted, dump, unwrap

__all__ = ["CaseSlot", "Conversion", "convert_config", "read_config"]

INLINE_CASES = 50  # more cases than this go to a data file beside the suite
_IGNORED = {"description", "tags", "sharing", "writeLatestResults", "commandLineOptions"}
_NOT_CONVERTED = {
    "redteam": "red-team generation is promptfoo's; promptbench's probes are the nearest thing",
    "extensions": "extension hooks run JavaScript or Python around the eval; not imported",
    "nunjucksFilters": "custom template filters run JavaScript; rewrite them as Jinja2",
    "derivedMetrics": "derived metrics are not imported; compute them from records.jsonl",
    "env": "set these variables in the environment instead",
    "outputPath": "use promptbench run --csv PATH or --json",
    "tracing": "tracing is not imported",
    "metadata": "suite metadata is not imported",
}

# A test's options that change what is sent or checked, with no promptbench counterpart.
_OPTIONS_NOT_CONVERTED = (
    "transform",
    "transformVars",
    "prefix",
    "suffix",
    "rubricPrompt",
    "storeOutputAs",
)


@dataclass(frozen=True)
class CaseSlot:
    """What promptfoo's ``testIdx`` n was: a case of the suite and a repeat."""

    case_id: str
    repeat: int
    vars: dict[str, Any]  # as promptfoo reports them (before files were read)
    assertions: list[Any]  # the test's own assertions, defaultTest's first
    description: str | None = None


@dataclass
class Conversion:
    """The suite made from a config, and what it left out."""

    name: str
    suite: dict[str, Any]  # with Noted comments; unwrap() gives plain data
    files: dict[str, str] = field(default_factory=dict)  # beside the suite: name -> text
    left_out: list[LeftOut] = field(default_factory=list)
    variants: list[PromptSource] = field(default_factory=list)
    models: list[ModelSource] = field(default_factory=list)
    slots: list[CaseSlot] = field(default_factory=list)
    default_asserts: list[Any] = field(default_factory=list)
    cases_file: str | None = None
    case_count: int = 0

    def text(self, header: str) -> str:
        """The suite file's text."""
        return dump(self.suite, header)


def read_config(path: Path) -> dict[str, Any]:
    """The config file's data; a UsageError when it cannot be read."""
    import yaml

    if path.suffix in (".js", ".cjs", ".mjs", ".ts"):
        raise UsageError(f"{path}: a JavaScript config cannot be imported; export it as YAML")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; give the promptfoo config") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UsageError(f"{where}: cannot be read as YAML: {problem}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a promptfoo config is a mapping with prompts and providers")
    return data


def _where(config_name: str, at: str) -> str:
    return f"{config_name}: {at}"


def _var_value(value: Any, base: Path, notes: list[str]) -> Any:
    """A var as promptfoo gives it to templates: file:// values are the file's text."""
    if isinstance(value, str) and value.startswith("file://"):
        path = base / value.removeprefix("file://")
        if path.suffix in (".txt", ".md", ".json", ".yaml", ".yml", "") and path.is_file():
            notes.append(f"{value} read into the case")
            text = path.read_text(encoding="utf-8")
            if path.suffix in (".yaml", ".yml"):  # promptfoo gives YAML as compact JSON
                import yaml

                return json.dumps(yaml.safe_load(text), ensure_ascii=False, separators=(",", ":"))
            return text.strip()
    return value


def _render_vars(vars_: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """Promptfoo renders templates inside var values with the other vars; so is this."""
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment()
    out = dict(vars_)
    for key, value in vars_.items():
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            try:
                out[key] = env.from_string(to_jinja(value).text).render(**vars_)
                notes.append(f"{key}'s template rendered as promptfoo renders it")
            except jinja2.TemplateError:
                pass
    return out


def convert_config(
    data: dict[str, Any], config_path: Path, suite_path: Path, *, providers: set[str]
) -> Conversion:
    """The suite for a promptfoo config; ``providers`` are those promptbench has."""
    base = config_path.parent
    name = config_path.name
    rel = asserts.relative_to(suite_path.parent, base)
    left: list[LeftOut] = []

    for key, section in data.items():
        if key in _NOT_CONVERTED and section:
            left.append(LeftOut(_where(name, key), f"{key}", _NOT_CONVERTED[key]))
        elif key not in {
            *_IGNORED,
            *_NOT_CONVERTED,
            "prompts",
            "providers",
            "targets",
            "tests",
            "defaultTest",
            "scenarios",
            "evaluateOptions",
        }:
            left.append(LeftOut(_where(name, key), f"the {key} section", "not converted"))

    prompts = load_prompts(data.get("prompts") or [], base, rel)
    left += [LeftOut(_where(name, x.where), x.what, x.instead) for x in prompts.left_out]

    models = Models(known_providers=providers, relative_path=rel)
    load_providers(data.get("providers") or data.get("targets") or [], models)
    _tools_on_variants(prompts.items, models, name, left)
    left += [LeftOut(_where(name, x.where), x.what, x.instead) for x in models.left_out]
    models.left_out.clear()  # graders made while converting the tests may add more

    def grader_for(spec: Any) -> str:
        return grader(models, spec if spec is not None else default_grader, "options.provider")

    default = data.get("defaultTest") or {}
    if isinstance(default, str):
        loaded = load_tests(default, base, "defaultTest")
        default = loaded.tests[0].data if loaded.tests else {}
    default_grader = (default.get("options") or {}).get("provider")
    ctx = AssertContext(relative_path=rel, grader=grader_for)

    suite_metrics: list[Any] = []
    default_asserts = list(default.get("assert") or [])
    for i, a in enumerate(default_asserts):
        made = asserts.convert(a, _where(name, f"defaultTest.assert[{i}]"), ctx)
        suite_metrics += made.entries
        left += made.left_out
    default_options = default.get("options") or {}
    for opt in _OPTIONS_NOT_CONVERTED:
        if default_options.get(opt):
            left.append(LeftOut(_where(name, f"defaultTest.options.{opt}"), opt, "not converted"))

    loaded = load_tests(data.get("tests") or [], base, "tests")
    left += [LeftOut(_where(name, x.where), x.what, x.instead) for x in loaded.left_out]
    tests = expand(loaded.tests, list(data.get("scenarios") or []), default, "scenarios")

    options = data.get("evaluateOptions") or {}
    repeat = int(options.get("repeat") or 1)
    cases: list[Any] = []
    slots: list[CaseSlot] = []
    taken: set[str] = set()
    for test in tests:
        cases += _cases_of(test, default, base, repeat, ctx, name, taken, slots, left)

    _fill_undefined(
        cases, [*(p.entry for p in prompts.items if p.entry is not None), suite_metrics]
    )

    suite_name = slug(suite_path.stem, "promptfoo")
    suite: dict[str, Any] = {"name": suite_name}
    if data.get("description"):
        suite["description"] = str(data["description"])
    suite["prompts"] = {p.name: p.entry for p in prompts.items if p.entry is not None}
    if not suite["prompts"]:
        suite["prompts"] = {
            "prompt": Noted({"template": "{{ prompt }}"}, "no prompt could be imported")
        }
    suite["models"] = {m.name: m.entry for m in models.items if m.entry is not None}
    if not any(not unwrap(e).get("judge_only") for e in suite["models"].values()):
        suite["models"]["model"] = Noted(
            {"provider": "openai", "model": "gpt-4o-mini"}, "no provider could be imported"
        )
    left += [LeftOut(_where(name, x.where), x.what, x.instead) for x in models.left_out]
    conversion = Conversion(suite_name, suite, left_out=left, case_count=len(cases))
    if len(cases) > INLINE_CASES:
        conversion.cases_file = f"{suite_path.stem}.cases.yaml"
        suite["cases"] = conversion.cases_file
        conversion.files[conversion.cases_file] = _cases_text(cases, suite_path.name, name)
    else:
        suite["cases"] = cases
    if suite_metrics:
        suite["metrics"] = Noted(suite_metrics, "defaultTest.assert: checked on every case")
    if default.get("threshold") is not None:
        suite["threshold"] = default["threshold"]
    if repeat > 1:
        suite["repeat"] = repeat
    if options.get("maxConcurrency"):
        suite["concurrency"] = int(options["maxConcurrency"])
    for opt in options:
        if opt not in ("repeat", "maxConcurrency", "showProgressBar", "cache"):
            left.append(LeftOut(_where(name, f"evaluateOptions.{opt}"), opt, "not converted"))
    if ctx.needs_checks:
        conversion.files[asserts.CHECKS_FILE] = _checks_source()
    conversion.variants = prompts.items
    conversion.models = [m for m in models.items if m.key]
    conversion.slots = slots
    conversion.default_asserts = default_asserts
    return conversion


def _tools_on_variants(
    variants: list[PromptSource], models: Models, config_name: str, left: list[LeftOut]
) -> None:
    """Put the providers' tools on every variant: promptbench gives tools to a variant.

    That holds when every provider has the same tools; else they are listed as left out.
    """
    if not models.tools:
        return
    sets = {json.dumps(t, sort_keys=True) for t in models.tools.values()}
    tested = [m for m in models.items if m.entry is not None]
    if len(sets) > 1 or len(models.tools) < len(tested):
        for where in models.tools:
            left.append(
                LeftOut(
                    _where(config_name, f"{where}.config.tools"),
                    "tools that not every provider has",
                    "promptbench gives tools per variant: import a suite per set of tools",
                )
            )
        return
    given = {k: v for k, v in next(iter(models.tools.values())).items() if v is not None}
    for variant in variants:
        if variant.entry is None:
            continue
        entry = variant.entry.value if isinstance(variant.entry, Noted) else variant.entry
        entry.update(given)
        if isinstance(variant.entry, Noted):
            note = f"{variant.entry.note}; tools from the providers' config"
            variant.entry = Noted(entry, note)


def _strings(value: Any) -> list[str]:
    value = unwrap(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _template_vars(texts: list[str]) -> set[str]:
    import jinja2
    import jinja2.meta

    env = jinja2.Environment()
    names: set[str] = set()
    for text in texts:
        try:
            names |= jinja2.meta.find_undeclared_variables(env.parse(text))
        except jinja2.TemplateSyntaxError:
            continue
    return names - {"case_id", "expected", "metadata"}


def _fill_undefined(cases: list[Any], variants: list[Any]) -> None:
    """Give each case the vars its templates use and it lacks, as empty text.

    promptfoo renders an undefined variable as nothing; promptbench stops on it, so
    that a misspelt name is caught. The imported suite keeps promptfoo's result.
    """
    prompt_vars = _template_vars(_strings(variants))
    for noted in cases:
        row = noted.value
        used = prompt_vars | _template_vars(_strings(row.get("metrics") or []))
        missing = sorted(n for n in used if n not in row["vars"])
        if missing:
            for n in missing:
                row["vars"][n] = ""
            names = ", ".join(missing)
            noted_note = f"{noted.note}; {names} undefined in promptfoo, so empty"
            cases[cases.index(noted)] = Noted(row, noted_note)


def _cases_text(cases: list[Any], suite_name: str, config_name: str) -> str:
    # A data file is a plain list of rows; dump() writes mappings, so indent by hand.
    text = dump({"cases": cases})
    body = "\n".join(line[2:] if line.startswith("  ") else line for line in text.splitlines()[1:])
    return f"# the cases of {suite_name}, imported from {config_name}\n{body}\n"


def _checks_source() -> str:
    from promptbench.importers import promptfoo_checks

    return Path(promptfoo_checks.__file__).read_text(encoding="utf-8")


def _cases_of(
    test: Test,
    default: dict[str, Any],
    base: Path,
    repeat: int,
    ctx: AssertContext,
    config_name: str,
    taken: set[str],
    slots: list[CaseSlot],
    left: list[LeftOut],
) -> list[Any]:
    """The cases of one promptfoo test (one per combination of its array vars)."""
    data = test.data if isinstance(test.data, dict) else {}
    inline = test.where.startswith(("tests", "scenarios"))
    where = _where(config_name, test.where) if inline else test.where
    options = {**(default.get("options") or {}), **(data.get("options") or {})}
    for opt in _OPTIONS_NOT_CONVERTED:
        if (data.get("options") or {}).get(opt):
            left.append(LeftOut(f"{where}.options.{opt}", opt, "not converted"))
    if options.get("disableDefaultAsserts"):
        left.append(
            LeftOut(
                f"{where}.options.disableDefaultAsserts",
                "a test without defaultTest's assertions",
                "the suite's metrics apply to every case; move them to the cases",
            )
        )
    for key in ("providers", "prompts", "provider", "providerOutput"):
        if data.get(key):
            left.append(
                LeftOut(f"{where}.{key}", f"a test's own {key}", "make a suite for those instead")
            )
    for col in data.get("unknown_columns") or []:
        left.append(LeftOut(where, f"column {col}", "not converted"))
    test_repeat = int(options.get("repeat") or repeat)
    if test_repeat != repeat:
        left.append(
            LeftOut(
                f"{where}.options.repeat", f"repeat {test_repeat}", f"every case repeats {repeat}x"
            )
        )
    own = list(data.get("assert") or [])
    metrics: list[Any] = []
    grader_spec = (data.get("options") or {}).get("provider")
    for i, a in enumerate(own):
        at = f"{where}.assert[{i}]" if inline else f"{where}: assertion {i + 1}"
        saved = ctx.grader
        if grader_spec is not None:
            # The test's own options.provider grades its assertions that name none.
            def test_grader(spec: Any, _outer: Any = saved) -> str:
                return str(_outer(spec if spec is not None else grader_spec))

            ctx.grader = test_grader
        made = asserts.convert(a, at, ctx)
        ctx.grader = saved
        metrics += made.entries
        left += made.left_out
    raw_vars = {**(default.get("vars") or {}), **(data.get("vars") or {})}
    combos = var_combinations(raw_vars, base)
    description = data.get("description")
    out: list[Any] = []
    ids: list[str] = []
    for n, combo in enumerate(combos):
        notes: list[str] = []
        values = {k: _var_value(v, base, notes) for k, v in combo.items()}
        values = _render_vars(values, notes)
        stem = slug(str(description), "case") if description else str(len(taken) + 1)
        if description and len(combos) > 1:
            stem = f"{stem}-{n + 1}"
        case_id = unique(stem, taken)
        ids.append(case_id)
        row: dict[str, Any] = {"id": case_id, "vars": values}
        metadata = {**(default.get("metadata") or {}), **(data.get("metadata") or {})}
        if description:
            metadata["description"] = str(description)
        if metadata:
            row["metadata"] = metadata
        threshold = data.get("threshold")
        if threshold is not None:
            row["threshold"] = threshold
        if metrics:
            row["metrics"] = metrics
        note = test.where + (f"; {'; '.join(notes)}" if notes else "")
        out.append(Noted(row, note))
    for r in range(test_repeat):
        for n, combo in enumerate(combos):
            slots.append(
                CaseSlot(
                    ids[n],
                    r,
                    dict(combo),
                    [*default_asserts_of(default), *own],
                    str(description) if description else None,
                )
            )
    return out


def default_asserts_of(default: dict[str, Any]) -> list[Any]:
    """DefaultTest's assertions, which promptfoo puts before every test's own."""
    return list(default.get("assert") or [])


def conversion_summary(conversion: Conversion) -> dict[str, Any]:
    """Counts for the command's report."""
    suite = unwrap(conversion.suite)
    return {
        "variants": len(suite["prompts"]),
        "models": len(suite["models"]),
        "cases": conversion.case_count,
        "left_out": len(conversion.left_out),
    }


def left_out_json(conversion: Conversion) -> list[dict[str, str]]:
    """What was left out, for --json."""
    return [{"where": x.where, "what": x.what, "instead": x.instead} for x in conversion.left_out]
