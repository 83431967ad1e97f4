"""promptfoo's ``prompts`` and ``providers`` as promptbench variants and models."""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.importers.nunjucks import to_jinja
from promptbench.importers.promptfoo_asserts import LeftOut
from promptbench.importers.yamltext import Noted

__all__ = ["ModelSource", "Models", "PromptSource", "load_prompts", "slug", "unique"]

_TEXT_SUFFIXES = {".md", ".j2", ".jinja", ".jinja2", ".prompt", ".tmpl", ".njk", ""}
_ROLES = {"system", "user", "assistant"}


def slug(text: str, fallback: str) -> str:
    """A name for a table column: lower case, letters, digits, - and _."""
    out = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.")[:40].strip("-.")
    return out or fallback


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when it is taken; the result is taken too."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


@dataclass
class PromptSource:
    """One promptfoo prompt (after file splitting) and the variant made of it."""

    name: str
    entry: Any  # the variant as the suite writes it, or None when it could not be made


@dataclass
class _Prompts:
    items: list[PromptSource] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)


def _template(text: str, out: _Prompts, where: str) -> tuple[str, list[str]]:
    converted = to_jinja(text)
    for problem in converted.problems:
        out.left_out.append(LeftOut(where, problem, "rewrite that part of the template"))
    if converted.text.endswith("\n"):
        # Jinja2 (and so promptbench) drops one trailing newline; nunjucks keeps it.
        converted.text += "\n"
        converted.changes.append("trailing newline kept")
    return converted.text, converted.changes


def _text_variant(text: str, out: _Prompts, where: str, origin: str) -> Any:
    chat = _chat_messages(text)
    if chat is not None:
        return _chat_variant(chat, out, where, origin)
    jinja, changes = _template(text, out, where)
    note = origin + (f"; nunjucks → Jinja2: {', '.join(changes)}" if changes else "")
    return Noted({"template": jinja}, note)


def _chat_messages(text: str) -> list[Any] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m for m in data):
        return data
    return None


def _chat_variant(messages: list[Any], out: _Prompts, where: str, origin: str) -> Any:
    parts: dict[str, Any] = {}
    turns: list[dict[str, str]] = []
    changes: list[str] = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in _ROLES or not isinstance(content, str):
            out.left_out.append(
                LeftOut(
                    f"{where}: message {i}",
                    f"a {role} message whose content is not text (images, tool calls)",
                    "not converted yet; write the message as text",
                )
            )
            return None
        jinja, more = _template(content, out, f"{where}: message {i}")
        changes += more
        if role == "system" and i == 0:
            parts["system"] = jinja
        else:
            turns.append({"role": role, "content": jinja})
    last = turns.pop()["content"] if turns and turns[-1]["role"] == "user" else None
    if turns:
        parts["messages"] = turns
    if last is not None:
        parts["user"] = last
    if "user" not in parts:
        out.left_out.append(
            LeftOut(where, "a chat prompt that does not end with a user message", "add one")
        )
        return None
    note = origin + (f"; nunjucks → Jinja2: {', '.join(changes)}" if changes else "")
    return Noted(parts, note)


def _add(out: _Prompts, name: str, entry: Any) -> None:
    out.items.append(PromptSource(unique(name, out.taken), entry))


def _file_prompts(
    ref: str, label: str | None, base: Path, out: _Prompts, where: str, rel: Callable[[str], str]
) -> None:
    import yaml

    path_text = ref.removeprefix("file://")
    if re.search(r"\.(py|js|ts|mjs|cjs)(:\w+)?$", path_text):
        out.left_out.append(
            LeftOut(where, f"a prompt function ({path_text})", "write the prompt as a template")
        )
        _add(out, slug(label or Path(path_text.split(":")[0]).stem, "prompt"), None)
        return
    pattern = str(base / path_text)
    paths = sorted(glob.glob(pattern)) if any(c in path_text for c in "*?[") else [pattern]
    for file in paths:
        path = Path(file)
        name = slug(label or path.stem, "prompt")
        if not path.is_file():
            out.left_out.append(LeftOut(where, f"{path_text}: file not found", "check the path"))
            continue
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        shown = path.relative_to(base) if path.is_relative_to(base) else path
        origin = f"from {shown.as_posix()}"
        if suffix in (".json", ".yaml", ".yml"):
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
            if isinstance(data, list):
                _add(out, name, _chat_variant(data, out, where, origin))
            else:
                _add(out, name, _text_variant(str(data), out, where, origin))
        elif suffix == ".jsonl":
            lines = [line for line in text.splitlines() if line.strip()]
            for i, line in enumerate(lines):
                _add(
                    out,
                    name,
                    _chat_variant(json.loads(line), out, f"{where}: line {i + 1}", origin),
                )
        elif suffix == ".txt":
            # A text file holds several prompts separated by lines of ---, each trimmed.
            chunks: list[str] = []
            buf: list[str] = []
            for line in re.split(r"\r?\n", text):
                if line.strip() == "---":
                    chunks.append("\n".join(buf).strip())
                    buf = []
                else:
                    buf.append(line)
            chunks.append("\n".join(buf).strip())
            chunks = [c for c in chunks if c]
            for i, chunk in enumerate(chunks):
                part = f"{origin}, prompt {i + 1} of {len(chunks)}" if len(chunks) > 1 else origin
                _add(out, name, _text_variant(chunk, out, where, part))
        elif suffix in _TEXT_SUFFIXES:  # Markdown, Jinja: the whole file, as it is
            _add(out, name, _text_variant(text, out, where, origin))
        else:
            out.left_out.append(
                LeftOut(where, f"prompts from a {suffix} file", "write them as a text file")
            )


def load_prompts(spec: Any, base: Path, rel: Callable[[str], str]) -> _Prompts:
    """The variants of a config's ``prompts``, in promptfoo's order."""
    out = _Prompts()
    if isinstance(spec, dict):  # the old form: {file://path: label}
        spec = [{"id": k, "label": v} for k, v in spec.items()]
    items = spec if isinstance(spec, list) else [spec]
    for i, item in enumerate(items):
        where = f"prompts[{i}]"
        if isinstance(item, str):
            if item.startswith("file://"):
                _file_prompts(item, None, base, out, where, rel)
            else:
                _add(out, f"prompt{i + 1}", _text_variant(item, out, where, "inline"))
        elif isinstance(item, dict):
            label = item.get("label")
            if item.get("config"):
                out.left_out.append(
                    LeftOut(where, "a prompt's own config", "set those parameters on a model")
                )
            ref = item.get("id") or item.get("raw") or ""
            if isinstance(ref, str) and ref.startswith("file://"):
                _file_prompts(ref, label, base, out, where, rel)
            elif isinstance(item.get("raw"), str):
                entry = _text_variant(item["raw"], out, where, "inline")
                _add(out, slug(label or f"prompt{i + 1}", f"prompt{i + 1}"), entry)
            else:
                out.left_out.append(LeftOut(where, "a prompt without raw text", "give raw:"))
        else:
            out.left_out.append(LeftOut(where, "a prompt that is not text", "write it as text"))
    return out


# --------------------------------------------------------------------------- providers

_SAMPLING = ("temperature", "max_tokens", "top_p", "seed", "stop")
_EXTRA_BODY = ("frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs")


@dataclass
class ModelSource:
    """One promptfoo provider and the model made of it."""

    name: str
    key: str  # how promptfoo's results name it: the label, else the id
    entry: Any  # None when it could not be made


@dataclass
class Models:
    """The suite's models and what was left out of the providers."""

    items: list[ModelSource] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)  # graders, by name
    known_providers: set[str] = field(default_factory=lambda: {"openai"})
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # by the provider's place
    relative_path: Callable[[str], str] = str


def _provider_list(spec: Any) -> list[tuple[str, dict[str, Any]]]:
    """``providers`` in any of promptfoo's forms, as (id, options) pairs."""
    items = spec if isinstance(spec, list) else [spec]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and "id" in item:
            out.append((str(item["id"]), item))
        elif isinstance(item, dict) and len(item) == 1:  # {openai:gpt-4o: {config: ...}}
            pid, opts = next(iter(item.items()))
            out.append((str(pid), opts if isinstance(opts, dict) else {}))
        else:
            out.append(("", {}))
    return out


def _sampling(config: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key in _SAMPLING:
        if config.get(key) is not None:
            entry[key] = config[key]
    if config.get("num_predict") is not None:  # ollama's name
        entry["max_tokens"] = config["num_predict"]
    rf = config.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_object":
        entry["response_format"] = "json_object"
    elif rf is not None:
        entry["response_format"] = rf
    return entry


def model_entry(
    pid: str, opts: dict[str, Any], where: str, models: Models
) -> tuple[str, Any] | LeftOut:
    """(default name, model entry) for one provider, or what was left out."""
    config = dict(opts.get("config") or {})
    notes: list[str] = []
    parts = pid.split(":")
    family = parts[0]
    entry: dict[str, Any]
    if family == "openai" and len(parts) >= 2:
        if parts[1] in ("chat", "responses") and len(parts) >= 3:
            model = ":".join(parts[2:])
        elif parts[1] in (
            "completion",
            "embedding",
            "embeddings",
            "image",
            "assistant",
            "realtime",
        ):
            return LeftOut(where, f"provider {pid}", "only chat models are imported")
        else:
            model = ":".join(parts[1:])
        entry = {"provider": "openai", "model": model}
        base_url = config.pop("apiBaseUrl", None) or config.pop("apiHost", None)
        if base_url:
            url = str(base_url)
            entry["base_url"] = url if url.startswith("http") else f"https://{url}/v1"
        if config.get("apiKeyEnvar"):
            entry["api_key_env"] = str(config["apiKeyEnvar"])
        if config.get("apiKey"):
            notes.append("apiKey not copied: promptbench reads keys from the environment only")
    elif family == "ollama" and len(parts) >= 2:
        model = ":".join(
            parts[2:] if parts[1] in ("chat", "completion") and len(parts) > 2 else parts[1:]
        )
        url = str(config.get("apiBaseUrl") or "http://localhost:11434").rstrip("/")
        entry = {"provider": "openai", "base_url": f"{url}/v1", "model": model}
        notes.append("Ollama through its OpenAI-compatible endpoint")
    elif family in ("anthropic", "azure", "azureopenai", "google", "vertex", "gemini"):
        name = {"azureopenai": "azure", "google": "gemini", "vertex": "gemini"}.get(family, family)
        if name not in models.known_providers:
            return LeftOut(
                where,
                f"provider {pid}",
                f"promptbench has no {name} provider yet; use an OpenAI-compatible endpoint",
            )
        if name == "azure":  # azure:chat:DEPLOYMENT, on config.apiHost
            entry = {"provider": "azure", "deployment": parts[-1]}
            host = config.pop("apiHost", None) or config.pop("apiBaseUrl", None)
            if host:
                entry["endpoint"] = str(host) if str(host).startswith("http") else f"https://{host}"
            if config.get("apiVersion"):
                entry["api_version"] = str(config["apiVersion"])
        else:
            entry = {"provider": name, "model": parts[-1]}
            if family == "vertex":
                notes.append("Vertex AI's model through the Gemini API")
    else:
        what = "a custom provider" if family in ("file", "python", "exec", "http", "https") else pid
        return LeftOut(
            where, f"provider {what}", "point an openai model at an OpenAI-compatible URL"
        )
    entry.update(_sampling(config, notes))
    extra = {k: config[k] for k in _EXTRA_BODY if config.get(k) is not None}
    if extra and entry["provider"] == "openai":
        entry["extra_body"] = extra
    if config.get("tools") or config.get("tool_choice") or config.get("functions"):
        _tools(config, where, models)
    if opts.get("transform") or config.get("transformResponse") or opts.get("transformResponse"):
        models.left_out.append(
            LeftOut(where, "transformResponse", "transforms run JavaScript; use a python: metric")
        )
    for key, why in _fit(entry, notes):
        models.left_out.append(LeftOut(f"{where}.config", f"{key}: {why}", "not copied"))
    label = opts.get("label")
    name = slug(str(label) if label else entry.get("model") or entry["deployment"], "model")
    return name, Noted(entry, f"promptfoo {pid}" + (f"; {'; '.join(notes)}" if notes else ""))


def variants_take_tools() -> bool:
    """Whether this promptbench's variants take ``tools:`` (conversations and tool calls)."""
    from promptbench.suite.schema import VariantSpec

    return "tools" in VariantSpec.model_fields


def _tool_choice(choice: Any) -> Any:
    # OpenAI's {type: function, function: {name}} is a tool's name in a suite.
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return choice["function"].get("name")
    return choice


def _tools(config: dict[str, Any], where: str, models: Models) -> None:
    """A provider's tools: kept for the variants, or listed when they cannot be given."""
    if config.get("functions") or not variants_take_tools():
        models.left_out.append(
            LeftOut(
                f"{where}.config.tools",
                "tools" if not config.get("functions") else "functions (the old form of tools)",
                "not converted yet: give OpenAI function schemas as tools: on a variant",
            )
        )
        return
    tools = config.get("tools")
    if isinstance(tools, str) and tools.startswith("file://"):
        tools = models.relative_path(tools.removeprefix("file://"))
    models.tools[where] = {"tools": tools, "tool_choice": _tool_choice(config.get("tool_choice"))}


def _fit(entry: dict[str, Any], notes: list[str]) -> list[tuple[str, str]]:
    """Drop the fields the provider refuses (a hosted API may take no temperature), saying so."""
    from pydantic import ValidationError

    from promptbench.providers import providers

    dropped: list[tuple[str, str]] = []
    if entry["provider"] not in providers:
        return dropped
    config = providers.get(entry["provider"]).config
    while True:
        try:
            config.model_validate(entry)
            return dropped
        except ValidationError as exc:
            errors = {str(e["loc"][0]): str(e["msg"]) for e in exc.errors() if e["loc"]}
        refused = sorted(set(errors) & (set(entry) - {"provider", "model", "deployment"}))
        if not refused:
            return dropped  # validating the written suite says what is wrong
        for key in refused:
            why = errors[key].removeprefix("Value error, ")
            notes.append(f"{key} left out: {why}")
            dropped.append((key, why))
            del entry[key]


def load_providers(spec: Any, models: Models) -> None:
    """The suite's models, in promptfoo's order."""
    for i, (pid, opts) in enumerate(_provider_list(spec)):
        where = f"providers[{i}]"
        made = model_entry(pid, opts, where, models)
        key = str(opts.get("label") or pid)
        if isinstance(made, LeftOut):
            models.left_out.append(made)
            models.items.append(ModelSource(unique(slug(key, "model"), models.taken), key, None))
            continue
        name, entry = made
        models.items.append(ModelSource(unique(name, models.taken), key, entry))


def grader(models: Models, spec: Any, where: str) -> str:
    """The name of the judge_only model that grades for ``spec`` (a provider or None)."""
    opts: dict[str, Any]
    if spec is None:
        pid, opts = "openai:gpt-4.1-mini", {}
        note = "promptfoo's default grader with an OpenAI key; choose yours"
    elif isinstance(spec, str):
        pid, opts, note = spec, {}, ""
    elif isinstance(spec, dict):
        pid, opts, note = str(spec.get("id", "")), spec, ""
    else:
        pid, opts, note = "", {}, ""
    key = json.dumps([pid, opts.get("config")], sort_keys=True, default=str)
    if key in models.extra:
        return str(models.extra[key])
    made = model_entry(pid, opts, where, models)
    name = unique("grader", models.taken)
    if isinstance(made, LeftOut):
        models.left_out.append(made)
        entry: Any = Noted(
            {"provider": "openai", "model": "gpt-4.1-mini", "judge_only": True},
            "the grader could not be converted; choose yours",
        )
    else:
        value = dict(made[1].value)
        value["judge_only"] = True
        entry = Noted(value, made[1].note + (f"; {note}" if note else ""))
    models.extra[key] = name
    models.items.append(ModelSource(name, "", entry))
    return name
