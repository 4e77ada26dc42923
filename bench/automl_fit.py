"""One AutoML comparator's fit and predictions for bench/automl.py, run by the comparator's own
interpreter (bench/.venvs/autogluon or bench/.venvs/flaml), never conveyor's.

``python automl_fit.py autogluon|flaml JOB.json OUT.json WORKDIR``. JOB.json (written by
bench/automl.py) holds the task, the target, the metric, the budget and the train and held-out
frames as columns (``number`` or ``category``, missing as null). OUT.json gets the training wall
seconds, the held-out predictions (a classifier's classes and probabilities), the one-row
``predict`` latency and the winning model's name. Only the standard library, numpy, pandas and
the system itself are imported: this file runs in neither conveyor's venv nor under its tests.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

WARM_UP_CALLS = 5
LATENCY_CALLS = 200
LATENCY_SECONDS = 60.0  # a slow ensemble's 200 calls would take minutes: fewer, at least 20
_AUTOGLUON_METRIC = {
    "roc_auc": "roc_auc",
    "f1_macro": "f1_macro",
    "rmse": "root_mean_squared_error",
}
_FLAML_METRIC = {"roc_auc": "roc_auc", "f1_macro": "macro_f1", "rmse": "rmse"}


def frame(columns: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame bench/automl.py wrote: numbers as float, categories as ``category``."""
    data = {}
    for column in columns:
        values = pd.Series(
            column["values"], dtype="float64" if column["kind"] == "number" else object
        )
        data[column["name"]] = values.astype("category") if column["kind"] == "category" else values
    return pd.DataFrame(data)


def latency(predict: Any, rows: pd.DataFrame) -> dict[str, float]:
    """Median and p99 milliseconds of ``predict`` on a one-row frame, after a warm-up."""
    for i in range(WARM_UP_CALLS):
        predict(rows.iloc[[i % len(rows)]])
    seconds: list[float] = []
    started = time.perf_counter()
    while len(seconds) < LATENCY_CALLS and (
        len(seconds) < 20 or time.perf_counter() - started < LATENCY_SECONDS
    ):
        row = rows.iloc[[len(seconds) % len(rows)]]
        before = time.perf_counter()
        predict(row)
        seconds.append(time.perf_counter() - before)
    ms = sorted(1000 * s for s in seconds)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "calls": len(ms),
    }


def autogluon(
    job: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame, workdir: Path
) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=job["target"],
        problem_type=job["task"],
        eval_metric=_AUTOGLUON_METRIC[job["metric"]],
        path=str(workdir / "autogluon"),
        verbosity=0,
    )
    started, cpu = time.perf_counter(), time.process_time()
    predictor.fit(train, presets="medium_quality")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # Models kept in memory, as AutoGluon's docs advise for online prediction: without it each
    # predict call may read them from disk.
    predictor.persist()
    out: dict[str, Any] = {"train_seconds": round(seconds, 2), "best": predictor.model_best}
    out["train_cpu_seconds"] = round(cpu, 1)
    out["models"] = len(predictor.model_names())
    if job["task"] == "regression":
        out["predictions"] = [float(v) for v in predictor.predict(test)]
    else:
        proba = predictor.predict_proba(test)
        out["classes"] = [str(c) for c in proba.columns]
        out["proba"] = proba.to_numpy(dtype="float64").round(6).tolist()
    out["latency"] = latency(predictor.predict, test)
    out["version"] = version("autogluon.tabular")
    return out


def flaml(
    job: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame, workdir: Path
) -> dict[str, Any]:
    from flaml import AutoML

    automl = AutoML()
    x, y = train.drop(columns=[job["target"]]), train[job["target"]]
    started, cpu = time.perf_counter(), time.process_time()
    automl.fit(
        X_train=x,
        y_train=y,
        task="regression" if job["task"] == "regression" else "classification",
        metric=_FLAML_METRIC[job["metric"]],
        time_budget=job["budget"],
        seed=0,
        verbose=0,
        log_file_name=str(workdir / "flaml.log"),
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    out: dict[str, Any] = {"train_seconds": round(seconds, 2), "best": automl.best_estimator}
    out["train_cpu_seconds"] = round(cpu, 1)
    if job["task"] == "regression":
        out["predictions"] = [float(v) for v in automl.predict(test)]
    else:
        out["classes"] = [str(c) for c in automl.classes_]
        out["proba"] = np.asarray(automl.predict_proba(test), dtype="float64").round(6).tolist()
    out["latency"] = latency(automl.predict, test)
    out["version"] = version("flaml")
    return out


def main(system: str, job_path: Path, out_path: Path, workdir: Path) -> None:
    job = json.loads(job_path.read_text())
    train, test = frame(job["train"]), frame(job["test"])
    if job["task"] != "regression":
        train[job["target"]] = train[job["target"]].astype(str)
    fit = {"autogluon": autogluon, "flaml": flaml}[system]
    out = fit(job, train, test.drop(columns=[job["target"]], errors="ignore"), workdir)
    out_path.write_text(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
