"""``--preset balanced`` against ``fast`` on a handful of the real-files corpus (issue 23).

Each data set goes end to end twice, as bench/real_files.py runs it (upload the seeded 80%,
serve, post the held-out fifth): once with the default preset, once with ``--preset balanced``
and its default budget. Printed per data set: the held-out metric of each, the training job's
stage seconds and the search's winner; and the metric's relative change (positive: balanced
is better).

``python -m bench.search_presets [NAME ...]`` (default: eight data sets of each task and size).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import real_files
from bench.corpus import CORPUS, build, datasets

DEFAULT = (
    "gbsg2",
    "anes96",
    "actg175",
    "chile",
    "housing",
    "diamonds",
    "computers",
    "countymurders",
)


def compare(names: list[str]) -> list[dict[str, Any]]:
    """Each named data set under fast and balanced; one row each."""
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-presets-"))
    rows = []
    try:
        paths = build(CORPUS, set(names))
        for dataset in datasets():
            if dataset.name not in paths:
                continue
            row: dict[str, Any] = {"name": dataset.name, "metric": None}
            for preset in ("fast", "balanced"):
                os.environ["BENCH_REAL_FILES_PRESET"] = preset
                result = real_files._one(
                    dataset, paths[dataset.name], workdir / preset / dataset.name
                )
                row["metric"] = result["metric"]
                row["rows"] = result["rows"]
                row[preset] = result["conveyor"]
                row[f"{preset}_train_seconds"] = result.get("train_seconds")
                row[f"{preset}_reason"] = result["reason"]
                row["winner"] = result.get("winner")
            row["change"] = _change(row["metric"], row["fast"], row["balanced"])
            print(_line(row), flush=True)
            rows.append(row)
    finally:
        os.environ.pop("BENCH_REAL_FILES_PRESET", None)
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _change(metric: str, fast: float | None, balanced: float | None) -> float | None:
    if fast is None or balanced is None or fast == 0:
        return None
    better = (fast - balanced) if metric == "rmse" else (balanced - fast)
    return round(100 * better / abs(fast), 2)


def _line(row: dict[str, Any]) -> str:
    return (
        f"| {row['name']} | {row['rows']} | {row['metric']} | {row['fast']} | {row['balanced']} "
        f"| {row['change']} | {row['fast_train_seconds']} | {row['balanced_train_seconds']} "
        f"| {row['winner']} |"
    )


if __name__ == "__main__":
    started = time.monotonic()
    load = os.getloadavg()[0]
    print("| data set | rows | metric | fast | balanced | change % | fast train s "
          "| balanced train s | winner |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    compare(sys.argv[1:] or list(DEFAULT))
    print(
        f"{time.monotonic() - started:.0f} s; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
