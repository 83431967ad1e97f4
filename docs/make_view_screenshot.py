"""Make the README's picture of ``promptbench view``'s history page from real runs.

    python docs/make_view_screenshot.py

In a temporary directory, runs one suite six times with ``promptbench run`` as a prompt
engineer iterating on it would (the ``mock`` provider's scripted answers stand in for
a model, so that the picture is the same on every machine: each iteration answers
one more case right with the terse prompt), starts ``promptbench view`` on 127.0.0.1
and photographs the suite's history page in headless Chromium (Debian's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from promptbench.testing.browser import chromium, screenshot_full

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
TICKETS = {
    "t1": ("I was charged twice this month", "billing"),
    "t2": ("The app crashes when I open settings", "bug"),
    "t3": ("How do I change my email address?", "account"),
    "t4": ("Refund for the duplicate payment please", "billing"),
    "t5": ("Login page shows a blank screen", "bug"),
    "t6": ("Please delete my account", "account"),
    "t7": ("My invoice has the wrong VAT number", "billing"),
    "t8": ("Export to CSV gives an error 500", "bug"),
}


def suite(iteration: int) -> dict[str, object]:
    answers = {}
    for i, (text, queue) in enumerate(TICKETS.values()):
        answers[f"Queue for: {text}"] = queue if i < 2 + iteration else "general"
        answers[f"Route this ticket to billing, bug or account. Ticket: {text}"] = (
            queue if i % 4 or iteration > 3 else "other"
        )
    return {
        "name": "ticket-triage",
        "prompts": {
            "terse": "Queue for: {{ ticket }}",
            "guided": "Route this ticket to billing, bug or account. Ticket: {{ ticket }}",
        },
        "models": {"mini": {"provider": "mock", "answers": answers}},
        "cases": [{"id": c, "ticket": t, "expected": q} for c, (t, q) in TICKETS.items()],
        "metrics": [{"exact": {}}, {"regex": {"pattern": "^[a-z]+$"}}],
        "gate": {"exact": ">= 0.75"},
    }


def main() -> int:
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "PROMPTBENCH_CACHE": str(root / "cache.db")}
        path = root / "suites" / "triage.yaml"
        path.parent.mkdir()
        for iteration in range(6):
            path.write_text(yaml.safe_dump(suite(iteration)), encoding="utf-8")
            subprocess.run(
                [*command, "run", str(path), "-q"],
                cwd=root,
                env=env,
                check=False,
                capture_output=True,
            )
        view = subprocess.Popen(
            [*command, "view", "--runs-dir", str(root / "runs"), "--port", "0"],
            cwd=root,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert view.stderr is not None
            url = view.stderr.readline().split()[2]
            with chromium(1200, 900) as driver:
                driver.get(url + "suites/ticket-triage")
                shot = screenshot_full(driver, OUT / "view-history.png", max_height=1300)
        finally:
            view.terminate()
            view.wait(timeout=20)
    print(f"wrote {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
