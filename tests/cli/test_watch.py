"""``promptbench run --watch`` in a child process: edit files, read what it prints, Ctrl-C.

The suite's template, dataset and ``python:`` metric are real files; the model is the
loopback server, whose request counter shows that only what an edit changed is called.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cli.test_subprocess import env, promptbench
from tests.helpers.e2e import echo_suite
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CHECK = "def short(output):\n    return len(output) < 100\n"


class Watcher:
    """``promptbench run --watch`` in the background, its output read line by line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [*promptbench(), "run", *args, "--watch"],
            cwd=cwd,
            env=env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float = 60) -> list[str]:
        """The lines printed until one containing ``text`` (which is included)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no {text!r} within {timeout} s:\n" + "\n".join(got)
                ) from None
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got

    def stop(self) -> int:
        """Ctrl-C, as a terminal sends it; the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def save(path: Path, text: str) -> None:
    """Write a file the way an editor saves it, a moment after the watcher last looked."""
    time.sleep(0.3)
    path.write_text(text, encoding="utf-8")


def test_watch_reruns_what_changed_and_prints_the_diff(
    loopback: LoopbackServer, project: Project
) -> None:
    project.write("prompts/ask.j2", "Q: {{ q }}")
    dataset = project.jsonl("data/cases.jsonl", [{"id": f"q{i}", "q": f"q{i}"} for i in (1, 2, 3)])
    checks = project.write("suites/checks.py", CHECK)
    suite = project.suite(
        echo_suite(
            loopback.url,
            prompts={"ask": "prompts/ask.j2"},
            cases="../data/cases.jsonl",
            metrics=[{"exact": "Q: {{ q }}"}, {"python": "checks.py:short"}],
        )
    )
    watcher = Watcher(["suites/suite.yaml"], project.root)
    try:
        first = watcher.until("watching")
        assert any("100.0%" in line for line in first), "\n".join(first)
        assert loopback.stats()["requests"] == 3
        assert "since the previous iteration" not in "\n".join(first)

        # A template edit: every case's prompt changes, so three new calls; with the
        # echoing server, "Q:" answers now fail exact: three pass -> fail flips, first.
        template = project.root / "prompts/ask.j2"
        save(template, "Question: {{ q }}")
        second = watcher.until("watching")
        text = "\n".join(second)
        assert "changed: ask.j2" in text
        assert "since the previous iteration" in text
        assert "ask × loop: 3 pass → fail, 0 fail → pass" in text, text
        flips_at = text.index("3 pass → fail")
        assert text.index("pass_rate", flips_at) > flips_at  # flips before the table
        assert loopback.stats()["requests"] == 6

        # A dataset edit adds one case: only it is called, the rest come from the cache.
        save(template, "Q: {{ q }}")
        watcher.until("watching")
        assert loopback.stats()["requests"] == 6  # back to the first prompt: all cached
        with dataset.open("a", encoding="utf-8") as f:
            f.write('{"id": "q4", "q": "q4"}\n')
        fourth = "\n".join(watcher.until("watching"))
        assert "changed: cases.jsonl" in fourth
        assert loopback.stats()["requests"] == 7

        # A broken edit: one line naming the problem, no traceback, and it waits.
        save(suite, suite.read_text(encoding="utf-8").replace("prompts:", "promptz:"))
        broken = watcher.until("watching")
        assert any("suite.yaml" in line for line in broken), broken
        assert not any("Traceback" in line for line in broken)
        assert watcher.proc.poll() is None
        assert loopback.stats()["requests"] == 7

        # Fixed again; then a python: metric edit reruns scoring with no new call.
        save(suite, suite.read_text(encoding="utf-8").replace("promptz:", "prompts:"))
        watcher.until("watching")
        save(checks, "def short(output):\n    return len(output) < 3\n")
        metric = "\n".join(watcher.until("watching"))
        assert "changed: checks.py" in metric
        assert "4 pass → fail" in metric, metric
        assert loopback.stats()["requests"] == 7

        assert watcher.stop() == 130
    finally:
        watcher.kill()
    assert not any("Traceback" in line for line in watcher.seen)


def test_a_save_made_while_the_run_is_going_is_not_missed(
    loopback: LoopbackServer, project: Project
) -> None:
    # The file watcher is only in place between runs: an edit saved while calls are in
    # flight (or right as "watching" is printed) must still start the next iteration.
    project.write("prompts/ask.j2", "Q: {{ q }}")
    suite = project.suite(
        echo_suite(loopback.url, prompts={"ask": "prompts/ask.j2"}, cases=[{"id": "q1", "q": "x"}])
    )
    watcher = Watcher([str(suite.relative_to(project.root))], project.root)
    try:
        watcher.until("watching")
        loopback.configure(latency_ms=3000)
        save(project.root / "prompts/ask.j2", "Question: {{ q }}")
        watcher.until("changed: ask.j2")
        deadline = time.monotonic() + 60
        while loopback.stats()["in_flight"] == 0:  # the rerun's one call is at the server
            assert time.monotonic() < deadline, "the rerun never called the model"
            time.sleep(0.02)
        (project.root / "prompts/ask.j2").write_text("Quiz: {{ q }}", encoding="utf-8")
        watcher.until("watching")  # the rerun that was in flight ends ...
        watcher.until("changed: ask.j2")  # ... and the save made during it is seen
        watcher.until("watching")
        assert loopback.stats()["by_prompt"] == {"Q: x": 1, "Question: x": 1, "Quiz: x": 1}
        assert watcher.stop() == 130
    finally:
        watcher.kill()


def test_watch_refuses_options_for_a_single_run(project: Project) -> None:
    project.write("suites/suite.yaml", "name: x\n")
    proc = subprocess.run(
        [*promptbench(), "run", "suites/suite.yaml", "--watch", "--json"],
        cwd=project.root,
        env={**env(), "PROMPTBENCH_CACHE": os.environ["PROMPTBENCH_CACHE"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "leave out --json" in proc.stderr
