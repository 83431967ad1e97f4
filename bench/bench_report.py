"""How large the HTML report of a 10,000-record run is, and how fast it opens and filters.

One command::

    python bench/bench_report.py [--cases 5000] [--variants 2]

Makes a real run of ``cases × variants`` records with the ``mock`` provider (about
half of the outputs fail, some cases flip between variants, outputs of a few lines),
writes its report with ``promptbench report``, opens it in headless Chromium (Debian's,
as the tests do) and prints, each beside its target:

* the file's size;
* the time to write it (``promptbench report``, in this process);
* the time to first render: from navigation start to the page's first rows drawn;
* the time a filter takes (Failures, Flipped, a search, back to All): the click, the
  filtering of every row in memory and the drawing of the new rows, layout included;
  median of 5;
* a scroll to the end or back to the top: the clock stops when the rows at the new
  position are in the DOM and laid out (not at the next animation frame, which came
  before the redraw), median of 10;
* the table rows in the DOM (it must stay a window, not the run).

Exit code 1 when a target is missed, 2 when the browser is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

TARGETS = {
    "size_mb": 6.0,
    "write_s": 5.0,
    "first_render_ms": 1500.0,
    "filter_ms": 150.0,
    "scroll_ms": 100.0,
    "dom_rows": 150,
}
ANSWER = (
    "Answer: {verdict}.\n"
    "Reasoning: the ticket mentions a charge on the card and asks for the money back, "
    "which is what the billing queue handles; nothing in it points to a bug or an account."
)


def make_run(root: Path, cases: int, variants: int) -> Path:
    from promptbench.api import run_suite

    rows = [
        {"id": f"c{i}", "ticket": f"Ticket {i}: I was charged twice for order {i}."}
        for i in range(1, cases + 1)
    ]
    (root / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers = {"3.": ANSWER.format(verdict="billing"), "7.": ANSWER.format(verdict="billing")}
    answers["v1: Ticket 1"] = ANSWER.format(verdict="billing")  # variant v1 passes more: flips
    suite = {
        "name": "bench-report",
        "prompts": {f"v{k}": f"v{k}: {{{{ ticket }}}}" for k in range(variants)},
        "models": {
            "mock": {
                "provider": "mock",
                "answers": answers,
                "replies": [ANSWER.format(verdict="refunds"), ANSWER.format(verdict="technical")],
            }
        },
        "cases": "cases.jsonl",
        "metrics": [{"icontains": {"value": "billing"}}, {"regex": {"pattern": "^Answer:"}}],
        "concurrency": 64,
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    os.environ["PROMPTBENCH_CACHE"] = str(root / "cache.db")
    result = run_suite(path, runs_dir=root / "runs", use_cache=False)
    return result.run_dir


CLICK = """
const [mode] = arguments;
const t = performance.now();
document.querySelector(`.seg button[data-mode='${mode}']`).click();
document.body.getBoundingClientRect();  // layout included
return performance.now() - t;
"""
SEARCH = """
const [q] = arguments;
const t = performance.now();
window.promptbench.state.q = q;
window.promptbench.apply();
document.body.getBoundingClientRect();
return performance.now() - t;
"""
SCROLL = """
// The clock runs from the scroll until the rows at the new position are in the DOM and
// laid out. The page redraws in its own animation-frame callback, queued by the scroll
// event after any frame callback of ours, so a frame callback here would stop the clock
// before the redraw: watch the table body for the redraw instead.
const done = arguments[arguments.length - 1];
const [y] = arguments;
const tbody = document.getElementById('rows');
const t = performance.now();
const watch = new MutationObserver(() => {
  watch.disconnect();
  document.body.getBoundingClientRect();  // layout of the new rows included
  done(performance.now() - t);
});
watch.observe(tbody, { childList: true, subtree: true });
window.scrollTo(0, y);
setTimeout(() => { watch.disconnect(); done(-1); }, 5000);  // no redraw: reported, not hidden
"""


def median_ms(fn: Any, n: int = 5) -> float:
    return statistics.median(float(fn()) for _ in range(n))


def measure(page: Path) -> dict[str, float]:
    from selenium.webdriver.support.ui import WebDriverWait

    from promptbench.testing.browser import chromium

    with chromium() as driver:
        start = time.perf_counter()
        driver.get(page.resolve().as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.body.dataset.ready === '1'")
        )
        load_s = time.perf_counter() - start
        timings = driver.execute_script("return window.promptbench.timings")
        out = {
            "load_s": load_s,
            "first_render_ms": float(timings["firstRender"]),
            "parse_ms": float(timings["parse"]),
            "dom_rows": float(driver.execute_script("return window.promptbench.rendered()")),
        }

        def click(mode: str) -> float:
            return float(driver.execute_script(CLICK, mode))

        def cycle() -> float:
            return max(click("fail"), click("flip"), click("all"))

        out["filter_ms"] = median_ms(cycle)
        out["fail_ms"] = median_ms(lambda: click("fail"))
        out["flip_ms"] = median_ms(lambda: click("flip"))
        out["all_ms"] = median_ms(lambda: click("all"))
        out["search_ms"] = median_ms(
            lambda: max(driver.execute_script(SEARCH, "c4321"), driver.execute_script(SEARCH, ""))
        )
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        ends = iter([height, 0] * 5)
        scrolls = [float(driver.execute_async_script(SCROLL, next(ends))) for _ in range(10)]
        if min(scrolls) < 0:
            raise SystemExit("bench_report: a scroll to the end or the top redrew no rows")
        out["scroll_ms"] = statistics.median(scrolls)
        driver.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
        time.sleep(0.2)
        out["dom_rows"] = max(
            out["dom_rows"], float(driver.execute_script("return window.promptbench.rendered()"))
        )
        shown = driver.execute_script("return document.getElementById('count').textContent")
        out["shown"] = shown
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--variants", type=int, default=2)
    args = parser.parse_args()

    from promptbench.report.html import human_size, run_report, write_report
    from promptbench.runs import resolve_run
    from promptbench.testing.browser import missing

    why = missing()
    if why:
        print(f"no headless browser: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        run_dir = make_run(root, args.cases, args.variants)
        run_s = time.perf_counter() - t
        t = time.perf_counter()
        page = root / "report.html"
        size = write_report(page, run_report(resolve_run(run_dir)))
        write_s = time.perf_counter() - t
        records = sum(1 for _ in (run_dir / "records.jsonl").open(encoding="utf-8"))
        print(f"run: {records:,} records in {run_s:.1f} s (mock provider)")
        m = measure(page)

    rows = [
        (
            "file size",
            f"{human_size(size)}",
            size / 1e6 <= TARGETS["size_mb"],
            f"<= {TARGETS['size_mb']:g} MB",
        ),
        (
            "write (promptbench report)",
            f"{write_s:.2f} s",
            write_s <= TARGETS["write_s"],
            f"<= {TARGETS['write_s']:g} s",
        ),
        ("load, driver.get to ready", f"{m['load_s']:.2f} s", True, ""),
        (
            "first render (from navigation start)",
            f"{m['first_render_ms']:.0f} ms",
            m["first_render_ms"] <= TARGETS["first_render_ms"],
            f"<= {TARGETS['first_render_ms']:g} ms",
        ),
        ("  of which JSON.parse", f"{m['parse_ms']:.0f} ms", True, ""),
        (
            "filter (worst of Failures, Flipped, All; median)",
            f"{m['filter_ms']:.1f} ms",
            m["filter_ms"] <= TARGETS["filter_ms"],
            f"<= {TARGETS['filter_ms']:g} ms",
        ),
        ("  Failures", f"{m['fail_ms']:.1f} ms", True, ""),
        ("  Flipped", f"{m['flip_ms']:.1f} ms", True, ""),
        ("  All", f"{m['all_ms']:.1f} ms", True, ""),
        (
            "search (type, clear; median)",
            f"{m['search_ms']:.1f} ms",
            m["search_ms"] <= TARGETS["filter_ms"],
            f"<= {TARGETS['filter_ms']:g} ms",
        ),
        (
            "scroll to the end or the top (median)",
            f"{m['scroll_ms']:.1f} ms",
            m["scroll_ms"] <= TARGETS["scroll_ms"],
            f"<= {TARGETS['scroll_ms']:g} ms",
        ),
        (
            "table rows in the DOM (most seen)",
            f"{m['dom_rows']:.0f}",
            m["dom_rows"] <= TARGETS["dom_rows"],
            f"<= {TARGETS['dom_rows']}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    shape = f"{args.cases:,} cases × {args.variants} variants"
    print(f"report of {records:,} records ({shape}; {m['shown']})")
    failed = 0
    for name, value, ok, target in rows:
        mark = " " if not target else "✓" if ok else "✗"
        failed += not ok
        print(f"{mark} {name:<{width}}  {value:>10}  {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
