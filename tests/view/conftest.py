"""A run store made by real runs (the ``mock`` provider, through the CLI), plus two broken runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.project import Project

CITIES = {"c1": "Paris", "c2": "Berlin", "c3": "Rome", "c4": "Madrid", "c5": "Oslo"}


def weather_suite(wrong: int) -> dict[str, Any]:
    """Two variants × one model; the first ``wrong`` cases answered wrongly by ``terse``."""
    answers = {}
    for i, (cid, city) in enumerate(CITIES.items()):
        answers[f"Capital {cid}?"] = "Nowhere" if i < wrong else city
        answers[f"Which city is the capital in {cid}?"] = city
    return {
        "name": "capitals",
        "prompts": {"terse": "Capital {{ q }}?", "polite": "Which city is the capital in {{ q }}?"},
        "models": {"scripted": {"provider": "mock", "answers": answers}},
        "cases": [{"id": cid, "q": cid, "expected": city} for cid, city in CITIES.items()],
        "metrics": [{"exact": {}}, {"icontains": {"value": "{{ expected }}"}}],
        "gate": {"exact": ">= 0.6"},
    }


@dataclass
class Store:
    """The runs directory and its runs, oldest first."""

    project: Project
    runs_dir: Path
    run_ids: list[str]
    corrupt: str
    half_written: str


def make_store(project: Project, wrongs: tuple[int, ...] = (3, 1, 0)) -> Store:
    """Runs of one suite getting better (``wrongs`` cases wrong each time), and two broken."""
    ids = []
    for wrong in wrongs:
        suite = project.suite(weather_suite(wrong))
        result = invoke("run", str(suite), "-q", "--no-cache")
        no_traceback(result)
        ids.append(project.runs[-1].name)
    runs_dir = project.root / "runs"
    corrupt = runs_dir / "20260101-000000-capitals-bad0"
    shutil.copytree(runs_dir / ids[0], corrupt)
    (corrupt / "run.json").write_text('{"run_id": "20260101-0', encoding="utf-8")
    half = runs_dir / "20260101-000001-capitals-half"
    half.mkdir()
    (half / "records.jsonl").write_text('{"case_id": "c1", "vari', encoding="utf-8")
    return Store(project, runs_dir, ids, corrupt.name, half.name)


@pytest.fixture
def store(project: Project) -> Store:
    """Three runs of ``capitals``, a run with a torn run.json, one without any."""
    return make_store(project)
