"""Cases from a Hugging Face dataset: on the hub, or in a local directory.

``cases: {hf: OWNER/NAME, subset: .., split: .., revision: .., limit: N, vars: {..}}``
goes through the ``datasets`` library (the ``datasets`` extra), streamed
(``load_dataset(..., streaming=True)``): rows are read as the run needs them, and
``limit`` stops reading after N rows, so a large dataset is never downloaded whole.

``hf:`` may also name a local directory (relative to the suite, then to its parent):
one written by ``Dataset.save_to_disk`` (read memory-mapped with ``load_from_disk``),
or one holding data files (Parquet, CSV, JSON), read like a hub dataset without one.

The revision goes into the cases' origin, and so into the run: the commit the hub
resolves the requested revision to when it can be asked, else the revision as given.
With ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` set, nothing is asked of the hub:
``datasets`` reads its local cache, and the source's note says so.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from promptbench.errors import Issue, MissingExtraError, SuiteError
from promptbench.suite import paths
from promptbench.suite.cases import CaseSource, from_rows
from promptbench.suite.columns import ColumnMap, plain
from promptbench.suite.metricspec import MetricScope
from promptbench.suite.schema import DatasetSpec
from promptbench.suite.yamlpos import Located

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
DEFAULT_SPLIT = "train"

# Reports an issue at a field of the suite's ``cases:`` mapping.
IssueAt = Callable[[str, str], Issue]


def offline_variable() -> str | None:
    """The environment variable that puts the hub offline, if one is set."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE"):
            return name
    return None


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingExtraError("datasets", "datasets", "cases: {hf: ...}") from None
    return datasets


def load(
    spec: DatasetSpec, suite_dir: Path, scope: MetricScope, columns: ColumnMap, at: IssueAt
) -> CaseSource:
    """The cases of ``spec`` (whose ``hf`` is set); problems are one issue at its field."""
    name = spec.hf or ""
    local = paths.resolve(name, suite_dir)
    if local is not None and local.is_dir():
        return _local(spec, local, scope, columns, at)
    if local is not None or name.startswith((".", "/")) or name.count("/") != 1:
        raise SuiteError(
            [at("hf", f"'{name}' is neither a directory nor a hub dataset name (OWNER/NAME)")]
        )
    datasets = _datasets()
    split = spec.split or DEFAULT_SPLIT
    offline = offline_variable()
    revision = spec.revision
    note = None
    if offline:
        note = f"{offline} is set: reading hf:{name} from the local cache"
    else:
        revision = _resolve_revision(name, spec.revision, at) or spec.revision
    try:
        ds = datasets.load_dataset(
            name, spec.subset, split=split, revision=revision, streaming=True
        )
    except Exception as exc:  # a third party's errors, many kinds: each becomes one line
        raise SuiteError([at(_field_of(exc), _load_problem(exc, name, spec, offline))]) from None
    shown = f"hf:{name}"
    origin = f"{shown}@{revision or 'main'}"
    if spec.subset:
        origin += f" subset={spec.subset}"
    origin += f" split={split}"
    return _source(ds, shown, origin, spec, scope, columns, note)


def _local(
    spec: DatasetSpec, path: Path, scope: MetricScope, columns: ColumnMap, at: IssueAt
) -> CaseSource:
    if spec.revision is not None or spec.subset is not None:
        field = "revision" if spec.revision is not None else "subset"
        raise SuiteError([at(field, f"{field} applies to hub datasets, not a local directory")])
    datasets = _datasets()
    shown = paths.display(path)
    saved = (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()
    try:
        if saved:
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                splits = list(ds)
                split = spec.split or (splits[0] if len(splits) == 1 else DEFAULT_SPLIT)
                if split not in ds:
                    raise SuiteError(
                        [at("split", f"no split '{split}' in {shown}; it has: {', '.join(splits)}")]
                    )
                ds = ds[split]
            elif spec.split is not None:
                raise SuiteError(
                    [at("split", f"{shown} holds one dataset, not splits; remove split:")]
                )
            split = spec.split or ""
        else:
            split = spec.split or DEFAULT_SPLIT
            ds = datasets.load_dataset(str(path), split=split, streaming=True)
    except SuiteError:
        raise
    except Exception as exc:  # a third party's errors, many kinds: each becomes one line
        raise SuiteError([at(_field_of(exc), _load_problem(exc, shown, spec, None))]) from None
    origin = f"hf:{shown}" + (f" split={split}" if split else "")
    return _source(ds, shown, origin, spec, scope, columns, None)


def _source(
    ds: Any,
    shown: str,
    origin: str,
    spec: DatasetSpec,
    scope: MetricScope,
    columns: ColumnMap,
    note: str | None,
) -> CaseSource:
    names = getattr(ds, "column_names", None)
    if names:  # a streamed dataset may not know its columns before the first row
        problems = columns.check_header(names, shown)
        if problems:
            raise SuiteError(problems)

    def reader(issues: list[Issue]) -> Iterator[tuple[int, Any, Located]]:
        rows = iter(ds) if spec.limit is None else itertools.islice(ds, spec.limit)
        for n, row in enumerate(rows, start=1):
            where = f"{shown} row {n}"
            try:
                data = {k: plain(v) for k, v in row.items()}
            except TypeError as exc:
                issues.append(
                    Issue(
                        where,
                        f"a value of type {exc} cannot be a var; map only text and number "
                        "columns (vars: {question: q})",
                    )
                )
                continue
            yield n, data, Located(where, data)

    return from_rows(reader, shown, origin, scope, columns, unit="row", note=note)


def _resolve_revision(name: str, revision: str | None, at: IssueAt) -> str | None:
    """The commit ``revision`` points at on the hub; None when the hub cannot say."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import (
            GatedRepoError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        return None
    try:
        info = HfApi().dataset_info(name, revision=revision, timeout=20)
    except GatedRepoError:
        raise SuiteError(
            [
                at(
                    "hf",
                    f"hf:{name} is gated: accept its terms on the hub, then log in "
                    "(huggingface-cli login, or set HF_TOKEN)",
                )
            ]
        ) from None
    except RevisionNotFoundError:
        raise SuiteError(
            [
                at(
                    "revision",
                    f"hf:{name} has no revision '{revision}'; give a branch, tag or commit",
                )
            ]
        ) from None
    except RepositoryNotFoundError:
        raise SuiteError([at("hf", _not_found(name))]) from None
    except Exception:  # no network, a timeout: load from what datasets can reach or cache
        return None
    sha = getattr(info, "sha", None)
    return sha if isinstance(sha, str) else None


def _not_found(name: str) -> str:
    return (
        f"no dataset hf:{name} on the hub (or it is private: log in with huggingface-cli "
        "login, or set HF_TOKEN); check OWNER/NAME"
    )


def _field_of(exc: BaseException) -> str:
    text = str(exc).lower()
    if "split" in text:
        return "split"
    if "config" in text:
        return "subset"
    return "hf"


def _load_problem(exc: BaseException, name: str, spec: DatasetSpec, offline: str | None) -> str:
    """One line saying why ``datasets`` could not load the dataset, and what to do."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    kind = type(exc).__name__
    if "split" in lowered and isinstance(exc, ValueError | KeyError):
        return f"split '{spec.split or DEFAULT_SPLIT}' cannot be read: {first}"
    if "config" in lowered and isinstance(exc, ValueError):
        return f"subset '{spec.subset}' cannot be read: {first}"
    if offline and (isinstance(exc, ConnectionError | FileNotFoundError) or "offline" in lowered):
        return (
            f"hf:{name} is not in the local cache and {offline} is set; run once online to "
            f"cache it, or unset {offline}"
        )
    if kind == "DatasetNotFoundError" or "doesn't exist on the hub" in lowered:
        return _not_found(name)
    if isinstance(exc, ConnectionError):
        return (
            f"cannot reach the hub for hf:{name}: {first}; check the network, or set "
            "HF_HUB_OFFLINE=1 to use the local cache"
        )
    return f"cannot load {name}: {kind}: {first}"


__all__ = ["OFFLINE_VARIABLES", "load", "offline_variable"]
