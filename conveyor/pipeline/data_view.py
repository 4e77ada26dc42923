"""The data view of one data set: per raw column, what preprocessing inferred (kind, parse rule,
missing spellings, share parsed, why dropped) beside its profile on the training split (missing
share, summary, and a distribution to draw: a histogram of numbers and dates, the top values of
the rest).

It reads what preprocessing already wrote under ``processed/<project>/<dataset_id>/``: the
report (``report.json``, the column table ``conveyor runs show`` prints) and the baseline profile
(``profile.json``, the one drift checks compare against); nothing is recomputed from the data.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import numpy as np

from conveyor.errors import InvalidInput, NotFound
from conveyor.monitoring.profile import OTHER
from conveyor.pipeline.file_report import column_rows, file_facts
from conveyor.storage import PROCESSED, ObjectStore
from conveyor.types import JsonDict

TOP_VALUES = 15
MAX_BINS = 30
# Whole numbers over a range this short get one bin per number, not bins that straddle them.
MAX_INTEGER_BINS = 40
_EPOCH = datetime(1970, 1, 1)
_DATASET_ID = re.compile(r"[0-9a-f]{64}")


def dataset_view(store: ObjectStore, project: str, dataset_id: str) -> JsonDict:
    """Every raw column of data set ``dataset_id`` of ``project``: its inferred schema and its
    profile, with a distribution ready to plot.

    Raises:
        InvalidInput: ``dataset_id`` is not a data set id (64 hex digits).
        NotFound: the project has no such data set (or its profile is gone).
    """
    if not _DATASET_ID.fullmatch(dataset_id):
        raise InvalidInput(
            f"{dataset_id!r} is not a data set id (64 hexadecimal digits, as `conveyor runs "
            "show` and `conveyor models show` print it)",
            field="dataset_id",
        )
    prefix = f"{project}/{dataset_id}"
    try:
        profile = json.loads(store.get(PROCESSED, f"{prefix}/profile.json"))
    except NotFound:
        raise NotFound(
            f"project {project!r} has no data set {dataset_id[:12]}… (no profile under "
            f"processed/{prefix}/): see the data sets of its runs with `conveyor runs list "
            f"--project {project}`",
            field="dataset_id",
        ) from None
    try:
        report = json.loads(store.get(PROCESSED, f"{prefix}/report.json"))
    except NotFound:
        report = {}
    return {
        "project": project,
        "dataset_id": dataset_id,
        "file": file_facts(report),
        "rows": {
            key: report.get(f"rows_{key}")
            for key in ("read", "kept", "train", "validation", "test")
        },
        "profiled_rows": profile.get("rows"),
        "profiled_at": profile.get("created_at"),
        "notes": list(report.get("notes") or []),
        "columns": _columns(report, profile),
    }


def _columns(report: JsonDict, profile: JsonDict) -> list[JsonDict]:
    features: dict[str, JsonDict] = profile.get("features") or {}
    target: JsonDict | None = profile.get("target")
    rows = column_rows(report)
    named = {row.name for row in rows}
    # A report without a target row (older reports listed features only) still shows it.
    extra = [name for name in features if name not in named]
    columns = [_column(row.to_dict(), features.get(row.name), target) for row in rows]
    columns += [_column({"name": n, "kind": features[n]["kind"]}, features[n], None) for n in extra]
    return columns


def _column(row: JsonDict, profiled: JsonDict | None, target: JsonDict | None) -> JsonDict:
    role = {"target": "target", "dropped": "dropped"}.get(row["kind"], "feature")
    if role == "target":
        profiled = target
    column: JsonDict = {
        **row,
        "role": role,
        "kind": profiled["kind"] if role == "target" and profiled else row["kind"],
        "missing_share": None,
        "summary": None,
        "distribution": None,
    }
    if profiled is None:
        return column
    count = int(profiled.get("count") or 0)
    column.update(
        count=count,
        missing=profiled.get("missing"),
        missing_share=profiled.get("missing_rate"),
        summary=_summary(profiled),
        distribution=_distribution(profiled),
    )
    return column


def _summary(profiled: JsonDict) -> JsonDict:
    if "frequencies" in profiled:
        return {"distinct": profiled.get("distinct")}
    median = (profiled.get("quantiles") or {}).get("0.5")
    if profiled.get("unit") == "epoch_days":  # dates: said as dates, not day numbers
        return {
            "min": profiled.get("min_time"),
            "median": None if median is None else _day(median),
            "max": profiled.get("max_time"),
        }
    summary: JsonDict = {k: profiled[k] for k in ("min", "max", "mean", "std") if k in profiled}
    if median is not None:
        summary["median"] = median
    return summary


def _day(epoch_days: float) -> str:
    return (_EPOCH + timedelta(days=epoch_days)).isoformat(sep=" ", timespec="seconds")


def _distribution(profiled: JsonDict) -> JsonDict | None:
    if "frequencies" in profiled:
        return _top_values(profiled["frequencies"], profiled.get("distinct"))
    sample = profiled.get("sample")
    if not sample:
        return None
    return {**_histogram(np.asarray(sample, dtype=float)), "unit": profiled.get("unit")}


def _top_values(frequencies: dict[str, int], distinct: int | None) -> JsonDict:
    """The ``TOP_VALUES`` most frequent values and the rest as one share, of the non-missing
    values (the profile keeps the top 50 and counts the rest as ``__other__``)."""
    total = sum(frequencies.values()) or 1
    ranked = [(value, n) for value, n in frequencies.items() if value != OTHER]
    shown = ranked[:TOP_VALUES]
    rest = total - sum(n for _, n in shown)
    return {
        "type": "top_values",
        "values": [{"value": value, "count": n, "share": n / total} for value, n in shown],
        "other": {
            "values": (distinct - len(shown)) if distinct is not None else None,
            "count": rest,
            "share": rest / total,
        },
        "of": total,
    }


def _histogram(sample: np.ndarray) -> JsonDict:
    """Equal-width bins over the profile's reference sample (every value up to 2,000 of them,
    a seeded sample beyond): the shape of the column, which its decile bins (10% each, by
    construction) cannot show. Shares are of the sample's values."""
    low, high = float(sample.min()), float(sample.max())
    whole = bool(np.all(sample == np.round(sample)))
    if whole and high - low < MAX_INTEGER_BINS:
        edges = np.arange(low - 0.5, high + 1.0, 1.0)
    elif low == high:
        edges = np.array([low - 0.5, high + 0.5])
    else:
        edges = np.histogram_bin_edges(sample, bins="auto")
        if len(edges) - 1 > MAX_BINS:
            edges = np.linspace(low, high, MAX_BINS + 1)
    counts, edges = np.histogram(sample, bins=edges)
    return {
        "type": "histogram",
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "shares": [float(c) / len(sample) for c in counts],
        "of": len(sample),
    }
