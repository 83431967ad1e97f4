"""The viewer's fold of a run's lines: one lean pass for the lines a runner writes.

:meth:`RunFold.fold` hands each line to three readers in turn (the summary's
``add_line``, then the row and column lookups, then the viewer's recorder), each of
which looks up the same fields again, the group twice and every score twice. Here a
line with every field a runner writes, and no probe, is read once: its fields by
subscript, its group's column and :class:`GroupSummary` in one lookup, each score once
for the recorder's codes and the group's :class:`MetricStats`. Any other line (written
before some field existed, a probe's twin, a new group) goes through the general
path, :meth:`RunFold.line_folder`'s; both append to the same state in file order.

What a lean line does to that state is exactly what the general path does:
:meth:`GroupSummary.add_line`, :meth:`Summary.add_line`, ``RunFold.fold``'s row and
column bookkeeping and :meth:`RowsFold._recorder`'s ``record``, rule for rule; tests
hold the two to the same state on runs with every shape of record.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptbench.bulk import decode_fast
from promptbench.runner.store import RECORDS_FILE, decode_line, open_records
from promptbench.stats.summary import GroupSummary, MetricStats

if TYPE_CHECKING:
    from promptbench.report.html.run_fold import Line
    from promptbench.view.rowindex import RowsFold

# A cell's verdict, and a metric's within it: 0 where the cell (or the score) is absent.
NONE, PASS, FAIL, ERROR, NO_VERDICT = 0, 1, 2, 3, 4
_NAN = math.nan

# A metric as the lean path keeps it: the appends of its scores' codes and records.
_Slot = tuple[Callable[[int], None], Callable[[int], None]]


def fold_lines(
    fold: RowsFold,
    start: int = 0,
    end: int | None = None,
    *,
    metric_stats: Callable[[], MetricStats] = MetricStats,
    after_general: Callable[[], None] | None = None,
) -> None:
    """Fold the lines of the run's records into ``fold``, in file order.

    ``start`` and ``end`` (a line's first byte, or None: the end of the file) fold one
    part of the file (:mod:`.partfold`); offsets stay the file's. ``fold`` is fresh, or
    holds the lines before ``start``. ``metric_stats`` makes
    a group's :class:`MetricStats` on the lean path, and ``after_general`` is called
    after each line the general path folded: how a part folded in another process
    keeps its float sums' addends (:class:`.partfold.Addends`).

    Raises KeyError, TypeError or AttributeError on a line that is not a record, as
    the general path does (the caller turns them into a RunStoreError).
    """
    general_path = fold.line_folder()
    general = general_path
    if after_general is not None:
        hook = after_general

        def general(offset: int, line: Line) -> None:
            general_path(offset, line)
            hook()

    rows, keys, columns = fold.rows_of, fold.keys, fold.columns
    var_names, metrics = fold.var_names, fold.metrics
    summary = fold.summary
    groups, names = summary.groups, summary.metric_names
    score_code, score_rec = fold.score_code, fold.score_rec
    row_of, col_of, offset_of = fold.rec_row.append, fold.rec_col.append, fold.rec_offset.append
    verdict_of, known_of = fold.rec_verdict.append, fold.rec_known.append
    latency_of, cost_of = fold.rec_latency.append, fold.rec_cost.append
    output_of, error_of = fold.rec_output.append, fold.rec_error.append
    vars_of, expected_of = fold.row_vars.append, fold.row_expected.append
    width_of = fold.row_width.append
    records = fold.rec_offset
    # Per group: its column and summary; per metric: its code and record appends.
    cells: dict[tuple[Any, Any], tuple[int, GroupSummary]] = {}
    slots: dict[str, _Slot] = {}
    lean = 0

    run_dir = fold.run.run_dir
    path = run_dir / RECORDS_FILE
    exact_big_ints = fold.exact_big_ints
    stop = math.inf if end is None else end
    with open_records(run_dir) as fh:
        if start:
            fh.seek(start)
        next_offset = start
        # store.iter_record_offsets's loop, here: a generator's frame and two calls a line
        # were a tenth of the fold.
        for raw in fh:
            offset = next_offset
            if offset >= stop:
                break
            next_offset += len(raw)
            if not raw.endswith(b"\n"):
                break  # the last write of a killed run
            if exact_big_ints:
                line = decode_line(path, raw, exact_big_ints)
            else:
                try:
                    line = decode_fast(raw)
                except ValueError:  # NaN (the standard library reads it), or corrupt: it says
                    line = decode_line(path, raw, exact_big_ints)
                if type(line) is not dict:
                    line = decode_line(path, raw, exact_big_ints)  # raises: not an object
            try:
                case_id = line["case_id"]
                variant = line["variant"]
                model = line["model"]
                repeat = line["repeat"]
                scores = line["scores"]
                err = line["error"]
                passed = line["passed"]
                latency = line["latency_ms"]
                cost = line["cost"]
                usage = line["usage"]
                cached = line["cached"]
                retries = line["retries"]
                saved = line["cost_saved"]
                output = line["output"]
                shown_vars = line["vars"]
                expected = line["expected"]
            except KeyError:
                general(offset, line)  # an older line (its defaults), or not a record (it says)
                continue
            if "probe" in line:
                general(offset, line)
                continue
            group = (variant, model)
            cell = cells.get(group)
            if cell is None:
                general(offset, line)  # a group's first line: its column and summary made
                cells[group] = (columns[group], groups[group])
                continue
            lean += 1
            col, g = cell

            # RunFold.fold's rows.
            key = (case_id, repeat)
            row = rows.get(key)
            if row is None:
                if repeat >= fold.repeats:
                    fold.repeats = repeat + 1
                row = rows[key] = len(keys)
                keys.append(key)
                for name in shown_vars or ():
                    if name not in var_names:
                        var_names[name] = len(var_names)
                vars_of(shown_vars or {})
                expected_of(expected)
                width_of(len(var_names))

            # RowsFold._recorder's record.
            i = len(records)
            row_of(row)
            col_of(col)
            offset_of(offset)
            if err:
                verdict_of(ERROR)
            elif passed is None:
                verdict_of(ERROR if scores else NO_VERDICT)
            else:
                verdict_of(PASS if passed else FAIL)
            if latency is None:
                latency_of(_NAN)
                if cost is None:
                    cost_of(_NAN)
                    known_of(0)
                else:
                    cost_of(cost)
                    known_of(2)
            else:
                latency_of(latency)
                if cost is None:
                    cost_of(_NAN)
                    known_of(1)
                else:
                    cost_of(cost)
                    known_of(3)
            output_of(output)
            error_of(err or None)

            # GroupSummary.add_line.
            g.records += 1
            g.cached += cached
            g.retries += retries
            if err:
                g.call_errors += 1
                kind = err["kind"]
                g.error_kinds[kind] = g.error_kinds.get(kind, 0) + 1
            else:
                if passed is True:
                    g.passed += 1
                elif passed is False:
                    g.failed += 1
                else:
                    g.no_verdict += 1
                if usage:
                    g.prompt_tokens += usage.get("prompt_tokens", 0)
                    g.completion_tokens += usage.get("completion_tokens", 0)
                if cost is None:
                    g.cost_unknown += 1
                else:
                    g.cost_total += cost
                g.cost_saved += saved or 0.0
                if latency is not None:
                    g.latencies.append(latency)
            if not scores:
                continue

            # Each score: the recorder's code; the group's MetricStats unless the call failed.
            stats = g.metrics
            for name, sc in scores.items():
                slot = slots.get(name)
                if slot is None:
                    if name not in names:  # Summary.add_line's metric names
                        names.append(name)
                    pos = metrics.get(name)
                    if pos is None:
                        pos = metrics[name] = len(metrics)
                    if pos not in score_code:
                        score_code[pos] = bytearray()
                        score_rec[pos] = array("l")
                    slot = slots[name] = (score_code[pos].append, score_rec[pos].append)
                s_passed = sc.get("passed")
                failed_score = s_passed is None or sc.get("error") is not None
                slot[0](ERROR if failed_score else PASS if s_passed else FAIL)
                slot[1](i)
                if err:
                    continue
                m = stats.get(name)
                if m is None:
                    m = stats[name] = metric_stats()
                if failed_score:
                    m.errors += 1
                    continue
                value = sc.get("value")
                if value is not None:
                    m.total += value
                    m.scored += 1
                if s_passed:
                    m.passed += 1
                else:
                    m.failed += 1
    fold.lean += lean
