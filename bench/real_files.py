"""Real files, end to end as a new user meets conveyor (issue 19).

For each corpus data set (bench/corpus): the file's data records are split 80/20 with a fixed
seed before conveyor sees anything. The 80% is written back in the file's own form (encoding,
byte-order mark, dialect, line ends, preamble, compression: the shipped bytes less the held-out
records) and uploaded into a fresh home with ``conveyor upload FILE --project P --target T
--wait``; ``conveyor serve`` starts on a free port and the held-out fifth is posted to
``/predict/<project>`` as the file has it: every named column, the target and ids included,
each cell the string the file holds (a workbook's cells as the workbook holds them). The
predictions are scored against the held-out targets beside a scikit-learn HistGradientBoosting
model fitted on the hand-cleaned copy of the same 80% (bench/corpus/clean.py) and scored on the
same rows: ROC-AUC for two classes, accuracy for more, RMSE for a number. A data set passes when
conveyor is within 3% of the baseline (RMSE within 5%); a failed upload, an error from
``/predict`` or a worse score fails it, with the reason.

``python -m bench.real_files`` (``make bench-real-files``) runs it alone: bench/results/
real_files.json, and BENCHMARKS.md re-rendered with the section; ``python -m bench.real_files
NAME ...`` runs the named data sets and prints their results only. ``make bench`` runs it
through bench/run.py.
``BENCH_REAL_FILES_SECONDS`` is each data set's time limit (default 120); ``BENCH_REAL_FILES``
(comma-separated names) runs only those under ``make bench``; ``BENCH_REAL_FILES_PRESET`` and
``BENCH_REAL_FILES_BUDGET`` upload with ``--preset`` and ``--time-budget``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score
from threadpoolctl import threadpool_limits

from bench.common import CONVEYOR, ROOT, free_port, post, wait_for_health, write_json
from bench.corpus import CORPUS, Dataset, build, datasets
from bench.corpus.clean import label
from bench.corpus.records import Table, read_table, write_subset

SEED = 19
TIME_LIMIT = float(os.environ.get("BENCH_REAL_FILES_SECONDS", "120"))
CHUNK_ROWS = 2_000
TOLERANCE = {"roc_auc": 0.03, "accuracy": 0.03, "rmse": 0.05}
_MAX_BINS = 255  # HistGradientBoosting's limit on a categorical column's levels


def run(workdir: Path, only: set[str] | None = None) -> dict[str, Any]:
    """Every data set (or those named in ``only``) end to end, one after another.

    Returns:
        ``datasets`` (one result each), ``passed``, ``total``, ``seconds``, ``seed``.
    """
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    paths = build(CORPUS, only)
    results = []
    for dataset in datasets():
        if dataset.name not in paths:
            continue
        print(f"-- {dataset.name}", flush=True)
        result = _one(dataset, paths[dataset.name], workdir / dataset.name)
        verdict = "pass" if result["passed"] else f"FAIL {result['reason'][:150]}"
        print(f"   {result['metric']} conveyor {result['conveyor']} baseline "
              f"{result['baseline']}: {verdict}", flush=True)  # fmt: skip
        results.append(result)
    return {
        "seed": SEED,
        "tolerance": TOLERANCE,
        "datasets": results,
        "passed": sum(r["passed"] for r in results),
        "total": len(results),
        "seconds": round(time.perf_counter() - started, 1),
        # The machine's 1-minute load average before and after: other work on the cores
        # stretches every process start, and a data set's seconds with it.
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def split(n: int, seed: int = SEED) -> tuple[list[int], list[int]]:
    """Train and held-out record indices: a seeded fifth held out, both in file order."""
    order = np.random.default_rng(seed).permutation(n)
    held = sorted(int(i) for i in order[: n // 5])
    chosen = set(held)
    return [i for i in range(n) if i not in chosen], held


@dataclass(frozen=True)
class Split:
    """A data set's file split as every side of a comparison sees it.

    Attributes:
        table: The file's records as read.
        clean: The hand-cleaned copy of all its records (bench/corpus/clean.py).
        train: The record indices uploaded (a fitted baseline skips those with no target).
        held: The held-out indices, posted to ``/predict``.
        scored: The held-out indices with a target: the rows every side is scored on.
    """

    table: Table
    clean: pd.DataFrame
    train: list[int]
    held: list[int]
    scored: list[int]


def split_file(dataset: Dataset, path: Path, seed: int = SEED) -> Split:
    """The file at ``path`` read, hand-cleaned and split with the seeded fifth held out."""
    table = read_table(path.read_bytes(), dataset.fmt)
    train, held = split(len(table.records), seed)
    clean = dataset.clean(_strings(table))
    target = clean[dataset.target]
    scored = [i for i in held if pd.notna(target.iloc[i])]
    return Split(table, clean, train, held, scored)


Serving = Callable[[str, list[dict[str, Any]]], dict[str, Any]]


def _one(
    dataset: Dataset,
    path: Path,
    workdir: Path,
    serving: Serving | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """One data set end to end, split with ``seed``; with ``serving``, it is also called with
    the ``/predict`` URL and the held-out rows while the server runs, and its answer kept as
    ``serving``. The held-out predictions of the scored rows are kept as ``predictions``, the
    conveyor home as ``home``, the search's budget as ``time_budget``."""
    workdir.mkdir(parents=True, exist_ok=True)
    parts = split_file(dataset, path, seed)
    table, train, held, clean, scored = (
        parts.table, parts.train, parts.held, parts.clean, parts.scored
    )  # fmt: skip
    target = clean[dataset.target]
    metric = _metric_name(dataset.task)
    result: dict[str, Any] = {
        "name": dataset.name,
        "file": dataset.filename,
        "source": dataset.source,
        "traits": list(dataset.traits),
        "rows": len(table.records),
        "target": dataset.target,
        "task": dataset.task,
        "metric": metric,
        "baseline": None,
        "conveyor": None,
        "passed": False,
        "reason": "",
    }
    started = time.perf_counter()
    try:
        # One thread: on a shared machine OpenMP's spinning threads make the fit 5-15x slower.
        with threadpool_limits(1):
            result["baseline"] = round(_baseline(dataset, clean, train, scored), 4)
        upload = workdir / dataset.filename
        upload.write_bytes(write_subset(table, train, dataset.fmt))
        result["baseline_seconds"] = round(time.perf_counter() - started, 1)
        predictions, conveyor_task = _conveyor(
            dataset, upload, table.rows(held), workdir, result, serving
        )
        result["conveyor_task"] = conveyor_task
        positions = {i: k for k, i in enumerate(held)}
        picked = [predictions[positions[i]] for i in scored]
        if serving is not None:
            result["predictions"] = picked
        result["conveyor"] = round(_score(dataset.task, target.iloc[scored], picked), 4)
    except _Failed as failure:
        result["reason"] = str(failure)
    except Exception as exc:  # one data set's surprise must not end the other 43's run
        result["reason"] = f"bench error: {type(exc).__name__}: {exc}"
    result["seconds"] = round(time.perf_counter() - started, 1)
    if result["conveyor"] is not None and result["baseline"] is not None:
        result["passed"] = _within(metric, result["conveyor"], result["baseline"])
        if not result["passed"]:
            result["reason"] = f"{metric} {result['conveyor']} against {result['baseline']}"
            if result.get("conveyor_task") not in (None, dataset.task):
                result["reason"] += f" (conveyor chose {result['conveyor_task']})"
    return result


class _Failed(Exception):
    """Why a data set did not go end to end (the run's failure, an HTTP error body)."""


def _strings(table: Table) -> pd.DataFrame:
    """The records as text, as a reader that keeps every cell as a string would give them."""
    records = [["" if v is None else _cell_text(v) for v in r] for r in table.records]
    return pd.DataFrame(records, columns=table.header, dtype=object)


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metric_name(task: str) -> str:
    return {"binary": "roc_auc", "multiclass": "accuracy"}.get(task, "rmse")


def _within(metric: str, conveyor: float, baseline: float) -> bool:
    if metric == "rmse":
        return conveyor <= baseline * (1 + TOLERANCE[metric])
    return conveyor >= baseline * (1 - TOLERANCE[metric])


def _baseline(dataset: Dataset, clean: pd.DataFrame, train: list[int], scored: list[int]) -> float:
    y = clean[dataset.target]
    features = clean.drop(columns=[dataset.target])
    for name in features.columns:
        column = features[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories) > _MAX_BINS:
            features[name] = column.cat.codes.where(column.notna()).astype("float64")
    fit_rows = [i for i in train if pd.notna(y.iloc[i])]
    x_fit, y_fit = features.iloc[fit_rows], y.iloc[fit_rows]
    x_test, y_test = features.iloc[scored], y.iloc[scored]
    if dataset.task == "regression":
        model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
        model.fit(x_fit, y_fit.astype("float64"))
        return float(np.sqrt(mean_squared_error(y_test, model.predict(x_test))))
    classifier = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    classifier.fit(x_fit, y_fit.astype(str))
    if dataset.task == "binary":
        positive = sorted(y_fit.astype(str).unique())[-1]
        column = list(classifier.classes_).index(positive)
        scores = classifier.predict_proba(x_test)[:, column]
        return float(roc_auc_score(y_test.astype(str) == positive, scores))
    return float(accuracy_score(y_test.astype(str), classifier.predict(x_test)))


def _score(task: str, truth: pd.Series, predictions: list[Any]) -> float:
    """conveyor's predictions against the held-out targets (binary: P(the last class))."""
    if task == "regression":
        try:
            values = np.array([float(p) for p in predictions])
        except (TypeError, ValueError) as exc:
            raise _Failed(f"predictions are not numbers (e.g. {predictions[0]!r})") from exc
        return float(np.sqrt(mean_squared_error(truth.astype("float64"), values)))
    labels = truth.astype(str)
    if task == "binary":
        positive = sorted(labels.unique())[-1]
        scores = []
        for prediction in predictions:
            classes, probabilities = prediction
            index = [label(c) for c in classes].index(positive) if classes else -1
            if index < 0:
                raise _Failed(f"conveyor's classes {classes} do not include {positive!r}")
            scores.append(probabilities[index])
        return float(roc_auc_score(labels == positive, scores))
    return float(accuracy_score(labels, [label(p) for p in predictions]))


def _conveyor(
    dataset: Dataset,
    upload: Path,
    rows: list[dict[str, Any]],
    workdir: Path,
    timings: dict[str, Any],
    serving: Serving | None = None,
) -> tuple[list[Any], str | None]:
    """Upload, serve, post the held-out rows; each row's prediction and the task conveyor chose.

    A binary prediction comes back as (classes, probabilities) for its ROC-AUC. The seconds
    of the upload (through training) and of the requests go into ``timings``.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + TIME_LIMIT
    home = Path(tempfile.mkdtemp(prefix="home-", dir=workdir))
    timings["home"] = str(home)
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    project = dataset.project
    command = [str(CONVEYOR), "upload", str(upload), "--project", project,
               "--target", dataset.target, "--wait", "--json", *_search_flags()]  # fmt: skip
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TIME_LIMIT, cwd=workdir
        )
    except subprocess.TimeoutExpired as exc:
        raise _Failed(f"upload did not finish within {TIME_LIMIT:.0f} s") from exc
    record = _run_record(done.stdout)
    timings["upload_seconds"] = round(time.perf_counter() - started, 1)
    train = (record.get("stages") or {}).get("train") or {}
    timings["train_seconds"] = train.get("seconds")
    search = (record.get("report") or {}).get("search") or {}
    timings["winner"] = search.get("winner")
    timings["time_budget"] = search.get("time_budget_seconds")
    timings["search_seconds"] = search.get("seconds")
    # What the search tried and why each row did not win (the ensemble's status above all).
    kept = ("name", "score", "fit_seconds", "one_row_ms", "status", "hyperparameters")
    timings["leaderboard"] = [
        {k: row.get(k) for k in kept} for row in search.get("leaderboard") or []
    ]
    if done.returncode != 0 or record.get("state") != "DEPLOYED":
        raise _Failed(_upload_failure(done, record))
    task = (record.get("report") or {}).get("task")
    port = free_port()
    log = (workdir / "serve.log").open("w")
    server = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    try:
        if not wait_for_health(port, deadline):
            raise _Failed("conveyor serve did not answer /health in time")
        url = f"http://127.0.0.1:{port}/predict/{project}"
        predicting = time.perf_counter()
        predictions = _predict(url, rows, dataset.task, deadline)
        timings["predict_seconds"] = round(time.perf_counter() - predicting, 1)
        if serving is not None:
            timings["serving"] = serving(url, rows)
        return predictions, task
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _search_flags() -> list[str]:
    """``BENCH_REAL_FILES_PRESET`` (fast, balanced, best) and ``BENCH_REAL_FILES_BUDGET``
    (e.g. 30s) as upload flags: bench/search_presets.py compares the presets."""
    flags = []
    if os.environ.get("BENCH_REAL_FILES_PRESET"):
        flags += ["--preset", os.environ["BENCH_REAL_FILES_PRESET"]]
    if os.environ.get("BENCH_REAL_FILES_BUDGET"):
        flags += ["--time-budget", os.environ["BENCH_REAL_FILES_BUDGET"]]
    return flags


def _run_record(stdout: str) -> dict[str, Any]:
    try:
        record = json.loads(stdout)
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _upload_failure(done: subprocess.CompletedProcess[str], record: dict[str, Any]) -> str:
    if record.get("failure_reason"):
        return f"run {record.get('state')}: {record['failure_reason']}"
    if record.get("state"):
        gate = (record.get("report") or {}).get("gate") or {}
        return f"run {record['state']}: {gate.get('reason', 'not deployed')}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return f"upload exited {done.returncode}: {' '.join(lines[-3:])}"


def _predict(url: str, rows: list[dict[str, Any]], task: str, deadline: float) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        body = json.dumps({"instances": rows[start : start + CHUNK_ROWS]}).encode()
        timeout = max(1.0, deadline - time.monotonic())
        try:
            status, answer = post(url, body, timeout=timeout)
        except OSError as exc:
            raise _Failed(f"/predict: {exc}") from exc
        if status != 200:
            raise _Failed(f"/predict {status}: {answer.decode(errors='replace')[:300]}")
        payload = json.loads(answer)
        if task == "binary":
            classes = payload.get("classes") or []
            out += [(classes, p) for p in payload.get("probabilities") or []]
            if not payload.get("probabilities"):
                raise _Failed(f"/predict gave no probabilities (task {task}): {answer[:200]!r}")
        else:
            out += payload["predictions"]
    return out


def main(names: list[str]) -> dict[str, Any]:
    """Run every data set, write bench/results/real_files.json and re-render BENCHMARKS.md
    (from bench/results/latest.json, with this section); with ``names``, run only those and
    print their results (a partial run writes no file: the table stays whole)."""
    from bench.report import render

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-real-files-"))
    try:
        results = run(workdir, set(names) or None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not names:
        write_json("real_files.json", results)
        (ROOT / "BENCHMARKS.md").write_text(render(real_files=results))
    print(f"{results['passed']} of {results['total']} pass ({results['seconds']} s)")
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
