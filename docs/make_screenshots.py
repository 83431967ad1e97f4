"""Make the README's pictures from a real run of the example: the terminal summary and the report.

    python docs/make_screenshots.py

Scaffolds the example in a temporary directory, runs it on the embedded local model
(as the README's first command does), records the terminal output as SVG with rich,
writes the HTML report, and photographs it in headless Chromium (Debian's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

from promptbench.testing.browser import CHROMIUM, FLAGS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def promptbench(*args: str, cwd: Path, env: dict[str, str]) -> str:
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    done = subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"promptbench {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "FORCE_COLOR": "1",
            "COLUMNS": "112",
            "PROMPTBENCH_CACHE": str(root / "cache.db"),
        }
        env.pop("NO_COLOR", None)
        promptbench("init", "demo", "-q", cwd=root, env=env)
        demo = root / "demo"
        shown = promptbench("run", "suites/quickstart.yaml", "-q", cwd=demo, env=env)
        console = Console(record=True, width=112, force_terminal=True, color_system="truecolor")
        console.print("$ promptbench run suites/quickstart.yaml", style="bold")
        console.print(Text.from_ansi(shown))
        svg = console.export_svg(title="promptbench run")
        (OUT / "terminal-summary.svg").write_text(svg, encoding="utf-8")
        report = root / "report.html"
        promptbench("report", "latest", "--html", str(report), cwd=demo, env=env)
        shot = OUT / "html-report.png"
        subprocess.run(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={root / 'ud'}",
                "--window-size=1280,1000",
                f"--screenshot={shot}",
                report.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    print(f"wrote {OUT / 'terminal-summary.svg'} and {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
