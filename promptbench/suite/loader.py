"""Load a suite file: parse YAML, validate every part, resolve and compile what it names.

All problems found are reported together, each as one line naming the file,
line, column and field, with a fix; nothing is called and nothing is written
before the whole suite is valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptbench.config import ModelConfig
from promptbench.errors import Issue, RenderError, SuiteError, UsageError
from promptbench.metrics.python_metric import user_function
from promptbench.providers import providers
from promptbench.render import Renderer, Template
from promptbench.suite import cases as case_files
from promptbench.suite import paths
from promptbench.suite.capabilities import check_capabilities
from promptbench.suite.grid import GRID_KEY, GridPoint, expand, grid_problem
from promptbench.suite.images import ImageSource, image_sources
from promptbench.suite.metricspec import MetricScope, parse_gate, parse_metrics
from promptbench.suite.model import Suite, Variant
from promptbench.suite.probes import (
    ProbeSet,
    check_probe_regressions,
    parse_probe_gates,
    parse_probes,
)
from promptbench.suite.regression import REGRESSION_KEY, parse_regression
from promptbench.suite.schema import DatasetSpec, SimulatedUserSpec, SuiteFile, VariantSpec
from promptbench.suite.tools import ToolsInput, parse_tools
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import KeyPath, Located, load_yaml
from promptbench.types import SimulatedUser

if TYPE_CHECKING:
    from promptbench.probes import ProbeDef  # imported only for a suite with probes:

MAX_SUITE_BYTES = 5_000_000
ROLES = ("system", "user", "assistant")


def load_suite(path: str | Path, *, user_code: bool = True) -> Suite:
    """Load and validate the suite at ``path``; raise SuiteError listing every problem.

    ``user_code=False`` refuses a suite that would run Python from its files (python
    metrics), for suites from untrusted sources such as pull requests.
    """
    fs_path = Path(path)
    shown = paths.display(fs_path)
    if not fs_path.is_file():
        raise SuiteError.one(
            shown, "no such suite file; check the path (promptbench init scaffolds an example)"
        )
    size = fs_path.stat().st_size  # before reading: a huge file is refused unread
    if size > MAX_SUITE_BYTES:
        raise SuiteError.one(
            shown,
            f"the suite is {size / 1e6:,.1f} MB, over the limit of "
            f"{MAX_SUITE_BYTES // 1_000_000} MB; keep cases in a data file "
            "(cases: data/cases.jsonl) and the suite small",
        )
    try:
        raw = fs_path.read_bytes()
    except OSError as exc:
        raise SuiteError.one(shown, f"cannot read the suite: {exc.strerror}") from None
    text = case_files._decode(raw, shown)
    src = load_yaml(text, shown)
    if not isinstance(src.data, dict):
        kinds = {list: "a list", str: "plain text", int: "a number", float: "a number"}
        got = (
            "empty"
            if src.data is None
            else f"{kinds.get(type(src.data), 'a value')}, not a mapping"
        )
        raise SuiteError.one(
            shown,
            f"the suite is {got}; a suite is a YAML mapping with name, prompts, models, "
            "cases and metrics",
            line=1,
        )
    issues: list[Issue] = []
    spec = validate(SuiteFile, src.data, src, (), issues)
    if spec is None:
        raise SuiteError(issues)
    return _Builder(fs_path.resolve(), src, spec, raw, user_code).build()


class _Builder:
    def __init__(
        self, path: Path, src: Located, spec: SuiteFile, raw: bytes, user_code: bool = True
    ) -> None:
        self.path = path
        self.user_code = user_code
        self.dir = path.parent
        self.src = src
        self.spec = spec
        self.issues: list[Issue] = []
        self.files: list[Path] = []
        self.hasher = hashlib.sha256(raw)
        search = []
        for d in paths.search_dirs(self.dir):
            search += [d, d / "prompts"]
        self.renderer = Renderer(search)

    def build(self) -> Suite:
        models: dict[str, ModelConfig] = {}
        model_points: dict[str, GridPoint] = {}
        judge_names = set()  # judges may name any model, even one that failed to validate
        for name, value in self.spec.models.items():
            expanded = self._models(name, value)
            if expanded is None:
                judge_names.add(name)
                continue
            for point, config in expanded:
                model_name = name if point is None else point.name
                self._unique(model_name, models, ("models", name))
                models[model_name] = config
                judge_names.add(model_name)
                if point is not None:
                    model_points[model_name] = point
        if models and all(m.judge_only for m in models.values()):
            self.issues.append(
                self.src.issue(("models",), "every model is judge_only; nothing to evaluate")
            )
        scope = MetricScope(set(), self.dir, judge_names, self.user_code)
        suite_metrics = parse_metrics(self.spec.metrics, self.src, ("metrics",), self.issues, scope)
        variants: dict[str, Variant] = {}
        for name, value in self.spec.prompts.items():
            for v in self._variants(name, value, scope):
                self._unique(v.name, variants, ("prompts", name))
                variants[v.name] = v
        check_capabilities(variants, models, self.src, self.issues)
        gate = parse_gate(self.spec.gate, scope.names, self.src, self.issues)
        regression = []
        if REGRESSION_KEY in self.spec.gate:
            written = self.spec.gate[REGRESSION_KEY]
            regression = parse_regression(written, scope.names, self.src, self.issues)
        if self.issues:
            raise SuiteError(self.issues)
        cases = self._cases(scope)
        probes = ProbeSet(self._probes(cases), self.renderer)
        gate += parse_probe_gates(self.spec.gate, probes.probes, self.src, self.issues)
        check_probe_regressions(regression, probes.probes, self.src, self.issues)
        if self.issues:
            raise SuiteError(self.issues)
        if probes:
            variants = {n: dataclasses.replace(v, probes=probes) for n, v in variants.items()}
        return Suite(
            path=self.path,
            name=self.spec.name,
            description=self.spec.description,
            variants=variants,
            models=models,
            cases=cases,
            metrics=tuple(suite_metrics),
            gate=tuple(gate),
            repeat=self.spec.repeat,
            concurrency=self.spec.concurrency,
            max_error_rate=self.spec.max_error_rate,
            threshold=self.spec.threshold,
            hash=self.hasher.hexdigest()[:16],
            renderer=self.renderer,
            files=self.files,
            wandb=self.spec.wandb,
            regression=tuple(regression),
            model_points=model_points,
            probes=probes,
        )

    def _unique(self, name: str, taken: dict[str, Any], path: KeyPath) -> None:
        if name in taken:
            self.issues.append(
                self.src.issue(
                    path, f"the name '{name}' is used twice (a grid expands to it); rename one"
                )
            )

    def _grid(self, value: dict[str, Any], base: KeyPath) -> dict[str, list[Any]] | None:
        """The entry's grid, checked; None when it has none or it is malformed (issue added)."""
        grid = value.get(GRID_KEY)
        if grid is None:
            return None
        problem = grid_problem(grid)
        if problem is not None:
            where, why = problem
            index = tuple(int(p) if p.isdigit() else p for p in where)
            self.issues.append(self.src.issue((*base, GRID_KEY, *index), why))
            return None
        fixed = [k for k in grid if k in value]
        if fixed:
            self.issues.append(
                self.src.issue(
                    (*base, GRID_KEY, fixed[0]),
                    f"{fixed[0]} is set and also in the grid; remove one",
                    prefer_key=True,
                )
            )
            return None
        return dict(grid)

    def _at_grid(
        self, base: KeyPath, params: tuple[tuple[str, Any], ...], grid: dict[str, list[Any]]
    ) -> Located:
        """The suite's positions, with each gridded field placed at its value in the grid.

        Built only when a setting fails to validate, so that the error points at the value.
        """
        src = Located(self.src.file, self.src.data, dict(self.src.keys), dict(self.src.values))
        for key, v in params:
            pos = self.src.pos((*base, GRID_KEY, key, grid[key].index(v)))
            if pos is not None:
                src.values[(*base, key)] = pos
                src.keys[(*base, key)] = pos
        return src

    def _probes(self, cases: case_files.CaseSource) -> dict[str, ProbeDef]:
        """The probes, checked against the cases' vars and the models; raises on a problem."""
        if not self.spec.probes:
            return {}
        issues: list[Issue] = []
        files: list[Path] = []
        found = parse_probes(
            self.spec.probes,
            self.src,
            issues,
            base_dir=self.dir,
            var_names=cases.var_names,
            models=set(self.spec.models),
            files=files,
        )
        if issues:
            raise SuiteError(issues)
        for f in files:
            self._track(f)
        return found

    # -- prompts ---------------------------------------------------------------------------

    def _variants(self, name: str, value: Any, scope: MetricScope) -> list[Variant]:
        """The variant, or with a grid one variant per setting of its template vars."""
        variant = self._variant(name, value, scope)
        if not isinstance(value, dict) or GRID_KEY not in value:
            return [] if variant is None else [variant]
        base: KeyPath = ("prompts", name)
        grid = self._grid(value, base)
        if grid is None or variant is None:
            return []
        taken = [k for k in grid if k in ("case_id", "expected", "metadata")]
        if taken:
            self.issues.append(
                self.src.issue(
                    (*base, GRID_KEY, taken[0]),
                    f"'{taken[0]}' is set by each case; give the grid var another name",
                    prefer_key=True,
                )
            )
            return []
        return [
            replace(variant, name=point.name, point=point)
            for point in (GridPoint(name, params) for params in expand(grid))
        ]

    def _variant(self, name: str, value: Any, scope: MetricScope) -> Variant | None:
        base: KeyPath = ("prompts", name)
        if isinstance(value, str):
            t = self._template(value, base, f"prompts.{name}")
            return Variant(name, (("user", t),)) if t else None
        if not isinstance(value, dict):
            self.issues.append(
                self.src.issue(
                    base, "a prompt is a template (text or a file) or a mapping with system/user"
                )
            )
            return None
        spec = validate(VariantSpec, value, self.src, base, self.issues)
        if spec is None:
            return None
        parts: list[tuple[str, Template | None]] = []
        images: dict[int, tuple[ImageSource, ...]] = {}
        user_text = spec.user if isinstance(spec.user, str) else None
        if spec.file is not None or spec.template is not None:
            if any(x is not None for x in (spec.system, user_text, spec.messages)) or (
                spec.file is not None and spec.template is not None
            ):
                self.issues.append(
                    self.src.issue(
                        base, "give either file, or template, or chat messages (system/user)"
                    )
                )
                return None
            if spec.file is not None:
                parts.append(
                    (
                        "user",
                        self._template(
                            spec.file, (*base, "file"), f"prompts.{name}", force_file=True
                        ),
                    )
                )
            else:
                parts.append(
                    (
                        "user",
                        self._template(
                            spec.template or "",
                            (*base, "template"),
                            f"prompts.{name}",
                            force_inline=True,
                        ),
                    )
                )
        else:
            if spec.system is not None:
                parts.append(
                    (
                        "system",
                        self._template(spec.system, (*base, "system"), f"prompts.{name}.system"),
                    )
                )
            for i, turn in enumerate(spec.messages or []):
                path = (*base, "messages", i)
                got = self._turn(turn, path, f"prompts.{name}")
                if got and isinstance(turn, dict) and "image" in turn:
                    images[len(parts)] = self._images(
                        turn["image"], (*path, "image"), f"prompts.{name}.messages[{i}].image"
                    )
                parts.extend(got)
            if user_text is not None:
                parts.append(
                    ("user", self._template(user_text, (*base, "user"), f"prompts.{name}.user"))
                )
            if not parts and not spec.turns and not isinstance(spec.user, SimulatedUserSpec):
                if not spec.messages:  # else a bad message was reported already
                    self.issues.append(
                        self.src.issue(base, "the prompt has no messages; add user:")
                    )
                return None
            if parts and parts[-1][0] == "assistant":
                self.issues.append(
                    self.src.issue(
                        base, "the last message is the assistant's; end with a user message"
                    )
                )
        if spec.image is not None:
            if not parts or parts[-1][0] != "user":
                self.issues.append(
                    self.src.issue((*base, "image"), "image: goes with a user message; add user:")
                )
            else:
                images[len(parts) - 1] = self._images(
                    spec.image, (*base, "image"), f"prompts.{name}.image"
                )
        turns = [
            self._template(
                text, (*base, "turns", i), f"prompts.{name}.turns[{i}]", force_inline=True
            )
            for i, text in enumerate(spec.turns or [])
        ]
        user = self._simulated_user(spec.user, (*base, "user"))
        tools = None
        if spec.tools is not None:
            tools = parse_tools(
                ToolsInput(spec.tools, spec.tool_choice, spec.tool_results, spec.max_steps),
                self.src,
                base,
                self.issues,
                base_dir=self.dir,
                renderer=self.renderer,
                user_code=self.user_code,
                load_function=user_function,
                track=self._track,
            )
        elif spec.tool_choice is not None or spec.tool_results is not None:
            key = "tool_choice" if spec.tool_choice is not None else "tool_results"
            self.issues.append(self.src.issue((*base, key), f"{key} needs tools:; add them"))
        metrics = parse_metrics(
            spec.metrics or [], self.src, (*base, "metrics"), self.issues, scope
        )
        if (
            any(t is None for _, t in parts)
            or any(t is None for t in turns)
            or any(not srcs for srcs in images.values())
        ):
            return None
        return Variant(
            name,
            tuple((r, t) for r, t in parts if t is not None),
            tuple(metrics),
            images=images,
            turns=tuple(t for t in turns if t is not None),
            user=user,
            tools=tools,
        )

    def _simulated_user(self, spec: Any, path: KeyPath) -> SimulatedUser | None:
        if not isinstance(spec, SimulatedUserSpec):
            return None
        if spec.model not in self.spec.models:
            self.issues.append(
                self.src.issue(
                    (*path, "model"),
                    f"no model named '{spec.model}' in the suite; "
                    + suggest(spec.model, sorted(self.spec.models)),
                )
            )
            return None
        return SimulatedUser(spec.model, spec.persona, spec.goal, spec.max_turns)

    def _images(self, value: Any, path: KeyPath, origin: str) -> tuple[ImageSource, ...]:
        return image_sources(
            value, self.src, path, origin, self.renderer, self.dir, self.issues, self._track
        )

    def _turn(
        self, turn: dict[str, Any], path: KeyPath, origin: str
    ) -> list[tuple[str, Template | None]]:
        keys = set(turn) - {"image"}
        if keys == {"role", "content"}:
            role, content = turn["role"], turn["content"]
        elif len(keys) == 1:
            role = next(iter(keys))
            content = turn[role]
        else:
            self.issues.append(
                self.src.issue(path, "a message is {user: text} or {role: user, content: text}")
            )
            return []
        if role not in ROLES:
            self.issues.append(
                self.src.issue(path, f"unknown role '{role}'; " + suggest(role, list(ROLES)))
            )
            return []
        if "image" in turn and role != "user":
            self.issues.append(
                self.src.issue((*path, "image"), "only a user message takes an image")
            )
            return []
        if not isinstance(content, str):
            self.issues.append(self.src.issue((*path, role), "a message's content is text"))
            return []
        return [(role, self._template(content, path, f"{origin}.messages[{path[-1]}]"))]

    def _template(
        self,
        text: str,
        path: KeyPath,
        origin: str,
        *,
        force_file: bool = False,
        force_inline: bool = False,
    ) -> Template | None:
        try:
            if force_file or (not force_inline and paths.looks_like_file(text)):
                found = paths.resolve(text, self.dir)
                if found is None:
                    where = " and ".join(
                        paths.display(d) or "." for d in paths.search_dirs(self.dir)
                    )
                    self.issues.append(
                        self.src.issue(
                            path,
                            f"template file '{text}' not found (looked in {where}); "
                            "create it or fix the path",
                        )
                    )
                    return None
                self._track(found)
                return self.renderer.from_file(found, paths.display(found))
            return self.renderer.from_string(text, origin)
        except RenderError as exc:
            pos = self.src.pos(path)
            if exc.origin and exc.origin != origin:  # a template file: point into it
                self.issues.append(Issue(exc.origin, exc.reason, line=exc.line))
            else:
                line = None
                if pos:
                    # A literal block (``user: |``) starts on the line after its indicator.
                    first = pos.line + 1 if path in self.src.literal else pos.line
                    line = first + (exc.line or 1) - 1
                self.issues.append(Issue(self.src.file, exc.reason, line=line, field=origin))
            return None

    # -- models ----------------------------------------------------------------------------

    def _models(
        self, name: str, value: dict[str, Any]
    ) -> list[tuple[GridPoint | None, ModelConfig]] | None:
        """The model, or with a grid each of its settings; None when invalid (issues added)."""
        base: KeyPath = ("models", name)
        if GRID_KEY not in value:
            config = self._model(name, value, self.src)
            return None if config is None else [(None, config)]
        grid = self._grid(value, base)
        if grid is None:
            return None
        fixed = {k: v for k, v in value.items() if k != GRID_KEY}
        provider_name = fixed.get("provider", "openai")
        if isinstance(provider_name, str) and provider_name in providers:
            known = providers.get(provider_name).config.model_fields
            unknown = [k for k in grid if k not in known]
            if unknown:
                self.issues.append(
                    self.src.issue(
                        (*base, GRID_KEY, unknown[0]),
                        f"unknown model field '{unknown[0]}' in the grid; "
                        + suggest(unknown[0], list(known)),
                        prefer_key=True,
                    )
                )
                return None
        out: list[tuple[GridPoint | None, ModelConfig]] = []
        for params in expand(grid):
            written = {**fixed, **dict(params)}
            trial: list[Issue] = []
            config = self._model(name, written, self.src, trial)
            if config is None:
                # Again, with the failing value located in the grid; one setting's errors only.
                self._model(name, written, self._at_grid(base, params, grid))
                return None
            out.append((GridPoint(name, params), config))
        return out

    def _model(
        self, name: str, value: dict[str, Any], src: Located, issues: list[Issue] | None = None
    ) -> ModelConfig | None:
        issues = self.issues if issues is None else issues
        base: KeyPath = ("models", name)
        provider_name = value.get("provider", "openai")
        problem = providers.problem(str(provider_name), listed_by="promptbench providers")
        if problem is not None:
            issues.append(src.issue((*base, "provider"), problem))
            return None
        definition = providers.get(provider_name)
        config = validate(definition.config, value, src, base, issues)
        if config is None:
            return None
        updates: dict[str, str] = {}
        for field in config.path_fields:
            given = getattr(config, field)
            if given is None:
                continue
            found = paths.resolve(given, self.dir)
            if found is None:
                issues.append(
                    src.issue(
                        (*base, field), f"file '{given}' not found; paths are relative to the suite"
                    )
                )
                return None
            updates[field] = str(found.resolve())
        if not updates:
            return config
        # Validated again with the absolute paths, so that checks of the files themselves run.
        return validate(definition.config, {**value, **updates}, src, base, issues)

    # -- cases -----------------------------------------------------------------------------

    def _cases(self, scope: MetricScope) -> case_files.CaseSource:
        value = self.spec.cases
        if isinstance(value, list):
            return case_files.from_list(value, self.src, ("cases",), scope)
        if isinstance(value, str):
            return self._case_file(value, ("cases",), scope, None, None)
        columns = self._column_map(value)
        if value.hf is not None:
            from promptbench.suite import hub

            def at(field: str, message: str) -> Issue:
                return self.src.issue(("cases", field), message)

            return hub.load(value, self.dir, scope, columns, at)
        return self._case_file(value.file or "", ("cases", "file"), scope, columns, value.limit)

    def _case_file(
        self,
        value: str,
        path: KeyPath,
        scope: MetricScope,
        columns: case_files.ColumnMap | None,
        limit: int | None,
    ) -> case_files.CaseSource:
        found = paths.resolve(value, self.dir)
        if found is None or not found.is_file():
            raise SuiteError(
                [
                    self.src.issue(
                        path, f"dataset file '{value}' not found; paths are relative to the suite"
                    )
                ]
            )
        self._track(found)
        return case_files.from_file(found, paths.display(found), scope, columns, limit)

    def _column_map(self, spec: DatasetSpec) -> case_files.ColumnMap:
        """The spec's column mapping, with where in the suite each column is named."""
        variables = spec.vars if not isinstance(spec.vars, list) else {c: c for c in spec.vars}
        where: dict[str, str] = {}
        fields = [f"vars.{v}" for v in variables or {}] + ["id", "expected"]
        for name in fields:
            key = ("cases", *name.split(".", 1))
            exact = ("cases", "vars") if isinstance(spec.vars, list) else key
            pos = self.src.pos(exact)
            if pos is not None:
                where[name] = f"{self.src.file}:{pos.line}"
        return case_files.ColumnMap(variables, spec.id, spec.expected, where)

    def _track(self, file: Path) -> None:
        self.files.append(file)
        try:
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    self.hasher.update(chunk)
        except OSError as exc:
            raise UsageError(f"{paths.display(file)}: cannot read: {exc.strerror}") from None
