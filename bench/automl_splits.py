"""conveyor ``--preset balanced`` on several held-out splits of the same data sets (issue 23).

bench/automl.py compares conveyor with AutoGluon on one split per data set (bench/real_files.py's
seeded fifth held out). On a few hundred held-out rows one split's difference can be noise: this
runs conveyor end to end as bench/automl.py does (``--preset balanced``, its default budget) on
the splits of several seeds, and beside it, in process on the hand-cleaned copy of the same 80%,
three fixed references with their defaults: scikit-learn's HistGradientBoosting (bench/
real_files.py's baseline), LightGBM and CatBoost. Per data set it prints, per seed, each one's
held-out metric and conveyor's rank among the four (1: best); then the spread across seeds.

``python -m bench.automl_splits [--seeds 19,1,2,3,4] NAME ...`` (default: the four regression
sets where conveyor fell behind AutoGluon). Results: bench/results/automl_splits.json (the last
run's, not committed), with the machine's load at each run's ends: the search is budgeted in
seconds, so a busy machine changes what it fits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error
from threadpoolctl import threadpool_limits

from bench import real_files
from bench.automl import score
from bench.common import write_json
from bench.corpus import CORPUS, Dataset, build, datasets
from conveyor.model.metrics import default_metric, greater_is_better
from conveyor.types import Task

DEFAULT = ("stocks", "forbes2000", "cars", "housing")
SEEDS = (real_files.SEED, 1, 2, 3, 4)
REFERENCES = ("hgb", "lightgbm", "catboost")


def run(names: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    """Every named data set on every seed's split; one row per (data set, seed)."""
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-splits-"))
    rows: list[dict[str, Any]] = []
    try:
        paths = build(CORPUS, set(names))
        by_name = {d.name: d for d in datasets()}
        for name in names:
            for seed in seeds:
                row = _split(by_name[name], paths[name], workdir / f"{name}-{seed}", seed)
                print(_line(row), flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _split(dataset: Dataset, path: Path, workdir: Path, seed: int) -> dict[str, Any]:
    metric = default_metric(Task(dataset.task))
    parts = real_files.split_file(dataset, path, seed)
    load = round(os.getloadavg()[0], 1)
    os.environ["BENCH_REAL_FILES_PRESET"] = "balanced"
    real_files.TIME_LIMIT = max(real_files.TIME_LIMIT, 1200.0)
    try:
        result = real_files._one(dataset, path, workdir, serving=_no_serving, seed=seed)
    finally:
        os.environ.pop("BENCH_REAL_FILES_PRESET", None)
    truth = parts.clean[dataset.target].iloc[parts.scored]
    predictions = result.get("predictions")
    conveyor = result.get("conveyor")  # real_files' score (ROC-AUC of the class it ranks by)
    if metric == "rmse" and predictions is not None:
        conveyor = round(score(metric, truth, predictions), 5)  # unrounded: seattle_temps' 0.07
    board = result.get("leaderboard") or []
    row: dict[str, Any] = {
        "name": dataset.name,
        "seed": seed,
        "metric": metric,
        "held_out": len(parts.scored),
        "conveyor": conveyor,
        "reason": result.get("reason") or "",
        "winner": result.get("winner"),
        "winner_validation": board[0]["score"] if board else None,
        "lightgbm_validation": next((r["score"] for r in board if r["name"] == "lightgbm"), None),
        # Whether the search fitted CatBoost in its budget, and how it scored there.
        "catboost_validation": next(
            ((r["score"], r["status"]) for r in board if r["name"] == "catboost"), None
        ),
        "train_seconds": result.get("train_seconds"),
        "hgb": result.get("baseline"),
    }
    with threadpool_limits(1):
        row.update(_references(dataset, parts))
    row["load_average"] = [load, round(os.getloadavg()[0], 1)]
    row["rank"] = _rank(row, metric)
    return row


def _no_serving(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """real_files keeps the held-out predictions only when a serving hook is given."""
    return {}


def _references(dataset: Dataset, parts: real_files.Split) -> dict[str, float]:
    """LightGBM's and CatBoost's defaults on the hand-cleaned 80%, scored on the held-out rows
    (regression: RMSE; the classifiers' tasks are left to bench/automl.py)."""
    if dataset.task != "regression":
        return {}
    import catboost
    import lightgbm

    clean, target = parts.clean, dataset.target
    fit = [i for i in parts.train if pd.notna(clean[target].iloc[i])]
    x = clean.drop(columns=[target])
    y = clean[target].astype("float64")
    x_fit, y_fit, x_test, y_test = (
        x.iloc[fit],
        y.iloc[fit],
        x.iloc[parts.scored],
        y.iloc[parts.scored],
    )
    out = {}
    model = lightgbm.LGBMRegressor(random_state=0, verbose=-1, n_jobs=1)
    model.fit(x_fit, y_fit)
    out["lightgbm"] = _rmse(y_test, model.predict(x_test))
    categorical = [name for name in x.columns if not pd.api.types.is_numeric_dtype(x[name])]

    def as_text(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{name: frame[name].astype(str) for name in categorical})

    cat = catboost.CatBoostRegressor(random_seed=0, verbose=False, thread_count=1)
    cat.fit(as_text(x_fit), y_fit, cat_features=categorical)
    out["catboost"] = _rmse(y_test, cat.predict(as_text(x_test)))
    return out


def _rmse(truth: pd.Series, predicted: np.ndarray) -> float:
    return round(float(np.sqrt(mean_squared_error(truth, predicted))), 5)


def _rank(row: dict[str, Any], metric: str) -> int | None:
    """conveyor's place among itself and the references that scored (1: best)."""
    if row["conveyor"] is None:
        return None
    sign = -1.0 if greater_is_better(metric) else 1.0
    ours = sign * row["conveyor"]
    return 1 + sum(sign * row[r] < ours for r in REFERENCES if row.get(r) is not None)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per data set: conveyor's held-out metric across seeds (mean, spread), its change
    against each reference's (mean, worst; positive: conveyor better) and its ranks."""
    out = []
    for name in dict.fromkeys(r["name"] for r in rows):
        mine = [r for r in rows if r["name"] == name and r["conveyor"] is not None]
        if not mine:
            continue
        values = [r["conveyor"] for r in mine]
        summary: dict[str, Any] = {
            "name": name,
            "seeds": len(mine),
            "mean": round(statistics.mean(values), 5),
            "min": min(values),
            "max": max(values),
            "ranks": [r["rank"] for r in mine],
            "winners": [r["winner"] for r in mine],
        }
        for reference in REFERENCES:
            changes = [_change(r["metric"], r[reference], r["conveyor"]) for r in mine]
            known = [c for c in changes if c is not None]
            if known:
                summary[f"vs_{reference}_mean"] = round(statistics.mean(known), 2)
                summary[f"vs_{reference}_worst"] = min(known)
        out.append(summary)
    return out


def _change(metric: str, reference: float | None, conveyor: float) -> float | None:
    if reference is None or reference == 0:
        return None
    better = (reference - conveyor) if not greater_is_better(metric) else (conveyor - reference)
    return round(100 * better / abs(reference), 2)


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['name']} seed {row['seed']}: conveyor {row['conveyor']} ({row['winner']}, "
        f"validation {row['winner_validation']}, lightgbm's {row['lightgbm_validation']}, "
        f"catboost's {row['catboost_validation']}) "
        f"hgb {row['hgb']} lightgbm {row.get('lightgbm')} catboost {row.get('catboost')} "
        f"rank {row['rank']} train {row['train_seconds']} s load {row['load_average']} "
        f"{row['reason']}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line: run, print the per-set summary, write the results file."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.automl_splits", description=__doc__.split("\n")[0]
    )
    parser.add_argument("names", nargs="*", help="data sets (default: %(default)s)")
    parser.add_argument(
        "--seeds",
        default=",".join(str(s) for s in SEEDS),
        help="split seeds, comma-separated (default: %(default)s; 19 is bench/automl.py's)",
    )
    args = parser.parse_args(argv)
    names = args.names or list(DEFAULT)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    started = time.monotonic()
    rows = run(names, seeds)
    summary = summarize(rows)
    for line in summary:
        print(line, flush=True)
    out = {"seconds": round(time.monotonic() - started, 1), "rows": rows, "summary": summary}
    write_json("automl_splits.json", out)
    return out


if __name__ == "__main__":
    main()
