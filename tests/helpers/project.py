"""A scratch project on disk: write suites, prompts and data; read back runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class Project:
    """A directory laid out like ``promptbench init`` makes: suites/, prompts/, data/.

    ``transport``, when set, is written into every ``openai`` model of the suites that
    :meth:`suite` writes from a dict (unless the model names its own): the tests marked
    ``each_transport`` run once per transport a user can get.
    """

    def __init__(self, root: Path, transport: str | None = None) -> None:
        self.root = root
        self.transport = transport

    def write(self, rel: str, text: str) -> Path:
        """Write a text file (UTF-8) and return its path."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def suite(self, data: dict[str, Any] | str, name: str = "suites/suite.yaml") -> Path:
        """Write a suite from a dict (dumped as YAML) or YAML text."""
        if isinstance(data, str):
            return self.write(name, data)
        if self.transport is not None:
            data = with_transport(data, self.transport)
        return self.write(name, yaml.safe_dump(data, sort_keys=False))

    def jsonl(self, rel: str, rows: list[dict[str, Any]]) -> Path:
        """Write a JSONL dataset."""
        return self.write(rel, "".join(json.dumps(r) + "\n" for r in rows))

    @property
    def runs(self) -> list[Path]:
        """Run directories, oldest first (by start time: ids are not ordered within a second)."""
        base = self.root / "runs"
        if not base.exists():
            return []

        def started(run: Path) -> str:
            meta = run / "run.json"
            return str(json.loads(meta.read_text(encoding="utf-8")).get("started_at", ""))

        return sorted((p for p in base.iterdir() if (p / "run.json").is_file()), key=started)

    def records(self, run_dir: Path | None = None) -> list[dict[str, Any]]:
        """The records of a run (the latest by default)."""
        run_dir = run_dir or self.runs[-1]
        # Records end with "\n" only; splitlines() would also split on U+2028 in outputs.
        text = (run_dir / "records.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.split("\n") if line]

    def meta(self, run_dir: Path | None = None) -> dict[str, Any]:
        """The run.json of a run (the latest by default)."""
        run_dir = run_dir or self.runs[-1]
        data: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        return data


def with_transport(suite: dict[str, Any], transport: str) -> dict[str, Any]:
    """``suite`` with ``transport`` set on each openai model that does not choose one."""
    models = suite.get("models")
    if not isinstance(models, dict):
        return suite
    chosen = {
        name: {**m, "transport": transport}
        if isinstance(m, dict) and m.get("provider", "openai") == "openai" and "transport" not in m
        else m
        for name, m in models.items()
    }
    return {**suite, "models": chosen}


def openai_model(server_url: str, **params: Any) -> dict[str, Any]:
    """A model entry pointing at the loopback server."""
    return {"provider": "openai", "base_url": server_url, "model": "loopback", **params}
