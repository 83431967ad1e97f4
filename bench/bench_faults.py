"""Kill a run while a server fails it, resume it, and count what was lost, doubled or paid.

``python bench/bench_faults.py`` (from the repository root, promptbench installed) starts two
loopback OpenAI-compatible servers (``promptbench.testing.openai_server``, each its own
process): one that fails a seeded 20% of requests in every way it can (429 with Retry-After,
500, 503, a closed connection, a TCP reset, a hang past the client's timeout, a malformed
body, an empty body, no choices, a body that trickles in) and one that never fails. It runs
``promptbench run`` on N cases (default 10,000) against the failing one, as a child process in
its own process group, and stops it three times at seeded random moments (SIGKILL twice and
SIGTERM once, in a seeded order, each when a seeded share of the records is written plus up to
50 ms), each time running the same command again to take the run up; then once more to the end.
The same suite then runs against the fault-free server.

Printed, each beside its target (exit code 1 when one is missed):

- records lost (a case without a record, or a record written once and gone later): 0
- records duplicated (two records for one case): 0
- paid calls unaccounted for: 0. The server counts as paid each 200 whose whole usable
  completion reached an open connection (``GET /_control/paid``: prompt and time). Each is
  put in the life of the process it was sent during, and is accounted for if that life
  recorded the case from a call (not the cache), if a later life recorded it from the cache
  (the kill came after the cache had it), or if that life was killed before recording it
  (in flight at a kill: counted, and said apart) less than 2 s before the kill (a record is
  written within milliseconds of its answer, and cached within ~50 ms). Any other (paid twice
  in one life, paid and never used by a life that ended by itself, answered 2 s or more
  before a kill and neither recorded nor cached) is unaccounted for.
- outputs different from the fault-free run's, over every case whose call succeeded: 0

It says, too, how many paid calls were in flight at a kill and how many of those were paid
again after it (the kill came before the batched cache write, at most ~50 ms of answers).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.loopback import LoopbackServer  # noqa: E402

TIMEOUT_S = 1.0  # the model's timeout: a hang of HANG_S is past it
HANG_S = 2.5
FAULT_KINDS = [
    "429:0.05",
    "500",
    "503",
    "drop",
    "reset",
    f"hang:{HANG_S}",
    "malformed",
    "empty_body",
    "empty_choices",
    "slow_body:0.3",
]
KILLS = [signal.SIGKILL, signal.SIGKILL, signal.SIGTERM]
# A paid answer is recorded within milliseconds and cached within ~50 ms (the cache writer's
# batch); one answered this long before a kill and neither recorded nor cached was lost.
STALE_S = 2.0


@dataclass
class Life:
    """One process of the run: when it started, how it ended, which records it wrote."""

    started: float
    signal: signal.Signals | None = None  # what stopped it; None: it ended by itself
    stopped_at: float = 0.0  # when the signal was sent
    exit_code: int | None = None
    first: int = 0  # its records are lines [first, last) of records.jsonl
    last: int = 0
    missed: bool = False  # the run ended before the moment chosen to stop it
    lines: list[str] = field(default_factory=list)  # the whole lines on disk when it ended


def promptbench() -> list[str]:
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def whole_lines(path: Path) -> list[str]:
    """The complete (newline-ended) lines of ``path``; a torn last line is left out."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data[: data.rfind(b"\n") + 1].decode("utf-8").split("\n")[:-1]


def write_project(root: Path, n: int, url: str, jobs: int) -> Path:
    data = root / "data" / "cases.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    with data.open("w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            fh.write(json.dumps({"id": f"c{i}", "q": f"question {i}"}) + "\n")
    suite = {
        "name": "faults",
        "prompts": {"plain": "Q: {{ q }}"},
        "models": {
            "loop": {
                "provider": "openai",
                "base_url": url,
                "model": "loopback",
                "timeout": TIMEOUT_S,
                "max_retries": 10,  # 0.2 ** 11: every case gets through
            }
        },
        "cases": "../data/cases.jsonl",
        "metrics": [{"exact": "Q: {{ q }}"}],
        "concurrency": jobs,
    }
    path = root / "suites" / "faults.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def environment(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PROMPTBENCH_CACHE": str(root / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(root / "runs"),
        "NO_COLOR": "1",
    }


def the_run_dir(root: Path) -> Path | None:
    runs = sorted(p for p in (root / "runs").glob("*") if p.is_dir())
    if len(runs) > 1:
        raise SystemExit(f"the run was not taken up: {len(runs)} run directories in {root}/runs")
    return runs[0] if runs else None


class Growth:
    """Counts the newlines of a file as it grows, reading only what was added."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.offset = 0
        self.lines = 0

    def count(self, root: Path) -> int:
        if self.path is None:
            run_dir = the_run_dir(root)
            if run_dir is None:
                return 0
            self.path = run_dir / "records.jsonl"
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return self.lines
        self.offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def live(
    root: Path, suite: Path, kill: tuple[signal.Signals, int, float] | None, first: int = 0
) -> Life:
    """Run the command once; with ``kill``, stop it with that signal at that moment."""
    life = Life(started=time.time(), first=first)
    proc = subprocess.Popen(
        [*promptbench(), "run", str(suite), "-q"],
        cwd=root,
        env=environment(root),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the signal reaches it alone
    )
    assert proc.stderr is not None
    if kill is not None:
        sig, at_records, extra = kill
        growth = Growth()
        while proc.poll() is None:
            if growth.count(root) >= at_records:
                time.sleep(extra)
                with_signal = proc.poll() is None
                if with_signal:
                    life.stopped_at = time.time()
                    os.killpg(proc.pid, sig)
                    life.signal = sig
                break
            time.sleep(0.01)
        life.missed = life.signal is None
    err = proc.stderr.read().decode("utf-8", "replace")
    life.exit_code = proc.wait()
    if "Traceback" in err:
        raise SystemExit(f"a traceback:\n{err[-3000:]}")
    expected = {signal.SIGKILL: -9, signal.SIGTERM: 143, None: 0}[life.signal]
    if life.exit_code != expected:
        raise SystemExit(f"exit code {life.exit_code}, expected {expected}:\n{err[-3000:]}")
    run_dir = the_run_dir(root)
    assert run_dir is not None, err
    life.lines = whole_lines(run_dir / "records.jsonl")
    life.last = len(life.lines)
    return life


def key(record: dict[str, Any]) -> tuple[str, str, str, int]:
    return record["case_id"], record["variant"], record["model"], int(record["repeat"])


def fault_free(root: Path, n: int, jobs: int) -> dict[str, str | None]:
    """Each case's output from a run against a server that never fails."""
    with LoopbackServer.start() as server:
        suite = write_project(root, n, server.url, jobs)
        life = live(root, suite, None)
    return {json.loads(line)["case_id"]: json.loads(line)["output"] for line in life.lines}


def account(
    lives: list[Life], records: list[dict[str, Any]], paid: list[dict[str, Any]]
) -> dict[str, int]:
    """Match each paid call to a record, or to a kill; count what matches neither."""
    case_of_prompt = {r["messages"][-1]["content"]: r["case_id"] for r in records}
    starts = [life.started for life in lives]
    # life -> case -> when each of its paid calls was sent
    paid_in: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for call in paid:
        index = max(0, sum(1 for s in starts if s <= call["at"]) - 1)
        paid_in[index][case_of_prompt.get(call["prompt"], "?" + call["prompt"])].append(call["at"])
    # How each life recorded each case: "call", "cache" or "error".
    how: dict[int, dict[str, str]] = defaultdict(dict)
    cached_later: dict[str, int] = {}  # case -> the life whose record came from the cache
    for index, life in enumerate(lives):
        for line in life.lines[life.first : life.last]:
            record = json.loads(line)
            case = record["case_id"]
            kind = "error" if record["error"] else "cache" if record["cached"] else "call"
            how[index][case] = kind
            if kind == "cache":
                cached_later.setdefault(case, index)
    counts = Counter[str]()
    for index, life in enumerate(lives):
        for case, times in paid_in[index].items():
            n = len(times)
            recorded = how[index].get(case)
            if recorded == "call":
                counts["recorded"] += 1
                counts["unaccounted"] += n - 1  # paid twice in one life
            elif cached_later.get(case, -1) > index:
                counts["recorded"] += 1  # a later life took it from the cache
                counts["unaccounted"] += n - 1
            elif life.signal is not None and recorded is None:
                # Answered long before the kill, yet neither recorded nor cached: lost.
                stale = sum(1 for t in times if life.stopped_at - t > STALE_S)
                counts["unaccounted"] += stale
                counts["in_flight"] += n - stale
                later = [how[j].get(case) for j in range(index + 1, len(lives))]
                counts["paid_again"] += "call" in later
            else:
                counts["unaccounted"] += n
        counts["calls_without_payment"] += sum(
            1 for case, kind in how[index].items() if kind == "call" and case not in paid_in[index]
        )
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in the suite")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--jobs", type=int, default=32, help="the suite's concurrency")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    n = args.cases
    kills = rng.sample(KILLS, len(KILLS))
    moments = sorted(rng.uniform(0.1, 0.9) for _ in kills)
    print(f"seed {seed}: {n:,} cases, {args.jobs} at once, {args.fault_rate:.0%} of requests fail")
    print(
        "  stops: " + ", ".join(f"{s.name} at {m:.0%}" for s, m in zip(kills, moments, strict=True))
    )

    scratch = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    started = time.monotonic()
    try:
        with LoopbackServer.start(seed=seed) as server:
            rule = {"fault_rate": args.fault_rate, "fault_kinds": FAULT_KINDS}
            server.configure(rules=[rule])
            root = scratch / "faulty"
            suite = write_project(root, n, server.url, args.jobs)
            lives: list[Life] = []
            for sig, moment in zip(kills, moments, strict=True):
                first = lives[-1].last if lives else 0
                life = live(root, suite, (sig, int(moment * n), rng.uniform(0, 0.05)), first)
                lives.append(life)
                what = life.signal.name if life.signal else "ended first"
                print(f"  life {len(lives)}: {what} after {life.last:,} records")
            lives.append(live(root, suite, None, lives[-1].last))
            print(f"  life {len(lives)}: ended by itself at {lives[-1].last:,} records")
            paid = server.paid()
            outcomes = server.stats()["by_outcome"]
        final = lives[-1].lines
        records = [json.loads(line) for line in final]
        clean = fault_free(scratch / "clean", n, args.jobs)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"  kept {scratch}")
    elapsed = time.monotonic() - started

    keys = Counter(key(r) for r in records)
    expected = {f"c{i}" for i in range(1, n + 1)}
    lost = len(expected - {k[0] for k in keys})
    # A record once on disk must stay there, in its place.
    vanished = sum(
        1
        for life in lives
        for i, line in enumerate(life.lines)
        if i >= len(final) or final[i] != line
    )
    duplicated = sum(c - 1 for c in keys.values())
    counts = account(lives, records, paid)
    succeeded = [r for r in records if not r["error"]]
    mismatches = sum(1 for r in succeeded if clean.get(r["case_id"]) != r["output"])
    failed = len(records) - len(succeeded)
    faults = sum(v for k, v in outcomes.items() if k != "ok")

    print(
        f"  {sum(outcomes.values()):,} requests, {faults:,} failed on purpose: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    print(
        f"  {len(paid):,} paid calls; {counts['recorded']:,} recorded, "
        f"{counts['in_flight']} in flight at a kill ({counts['paid_again']} of them paid "
        "again after it: the kill came before the cache write)"
    )
    print(f"  {failed} cases failed after every retry (recorded as errors)")
    figures = [
        ("records lost", lost + vanished, 0),
        ("records duplicated", duplicated, 0),
        ("paid calls unaccounted for", counts["unaccounted"], 0),
        ("records of a call the server never answered", counts["calls_without_payment"], 0),
        ("outputs different from the fault-free run", mismatches, 0),
    ]
    ok = True
    for name, value, target in figures:
        met = value <= target
        ok &= met
        print(f"{name:<46} {value:>6}   target {target}   {'ok' if met else 'MISSED'}")
    print(
        f"{'in flight at a kill (of 3 stops x ' + str(args.jobs) + ' at once)':<46} "
        f"{counts['in_flight']:>6}   at most {3 * args.jobs}"
    )
    ok &= counts["in_flight"] <= 3 * args.jobs
    load = os.getloadavg()[0]
    print(f"{len(succeeded):,} of {n:,} cases compared; {elapsed:.0f} s (load average {load:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
