"""A scratch project on disk: write suites, prompts and data; read back runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class Project:
    """A directory laid out like ``promptbench init`` makes: suites/, prompts/, data/."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> Path:
        """Write a text file (UTF-8) and return its path."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def suite(self, data: dict[str, Any] | str, name: str = "suites/suite.yaml") -> Path:
        """Write a suite from a dict (dumped as YAML) or YAML text."""
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        return self.write(name, text)

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


def openai_model(server_url: str, **params: Any) -> dict[str, Any]:
    """A model entry pointing at the loopback server."""
    return {"provider": "openai", "base_url": server_url, "model": "loopback", **params}
