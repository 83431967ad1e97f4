"""Instructions counted by callgrind in a child Python: the load-independent figure.

Shared by ``instructions_run.py`` and ``instructions_diff.py``; each times its work at
two sizes and takes the difference, so that start-up cancels out.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path


def collected(code: str, *args: str, what: str) -> int:
    """Instructions of ``python -c code *args`` under callgrind (every thread of it).

    ``what`` names the work in the one-line failure when the child fails.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"{what} under callgrind failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1))
