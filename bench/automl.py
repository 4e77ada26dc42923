"""conveyor ``--preset balanced`` against AutoGluon ``medium_quality`` and FLAML (issue 23).

On real data sets of the real-files corpus, every side gets the same split (bench/real_files.py:
a seeded fifth of the file's records held out) and is scored on the same held-out rows with the
metric conveyor's project uses for the task (ROC-AUC, macro F1, RMSE):

- conveyor goes end to end as bench/real_files.py runs it, with ``--preset balanced`` and its
  default budget: the 80% uploaded in the file's own form, ``conveyor serve``, the held-out
  fifth posted to ``/predict``. Its training seconds are the training job's.
- AutoGluon ``medium_quality`` (no time limit) and FLAML (time budget: the seconds conveyor's
  search was given on that data set) each run from a virtualenv of its own under bench/.venvs/
  (made on first use, bench/comparators.py), as a subprocess (bench/automl_fit.py) reading the
  hand-cleaned copy of the same 80% and the held-out rows: they get typed columns a person
  prepared (bench/corpus/clean.py), conveyor the file.

One-row latency: AutoGluon's and FLAML's ``predict`` on a one-row frame, conveyor's
``conveyor.load_model(...).predict`` in process and its ``/predict`` over HTTP (one kept-alive
connection), each a median and p99 after a warm-up: 200 calls for the comparators (whose calls
take tens of milliseconds), 1,000 for conveyor, whose p99 is a target: of 200 calls it is the
second slowest, one stall of the shared cores.

Each data set's results are cached in bench/results/automl/<name>.json, side by side, so a long
run resumes where it stopped. ``python -m bench.automl`` (``make bench``) runs what is missing,
prints the table, writes bench/results/automl.json and BENCHMARKS.md's section. Flags:
``--only NAME`` (repeatable), ``--sides conveyor,autogluon,flaml``, ``--force`` (run the chosen
sides again even when cached).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, mean_squared_error, roc_auc_score

from bench import real_files
from bench.common import RESULTS, ROOT, write_json
from bench.comparators import _env, ensure_env
from bench.corpus import CORPUS, Dataset, build, datasets
from bench.corpus.clean import label
from bench.report_automl import SIDES, SYSTEMS, summarize, table_lines
from conveyor.model.metrics import default_metric
from conveyor.types import Task

# AutoGluon's neural models want torch: pinned to the CPU build this machine has on disk (an
# unpinned one would be the multi-GB CUDA build). Its extras are the model families
# medium_quality fits.
PINS: dict[str, tuple[str, ...]] = {
    "autogluon": (
        "torch==2.13.0",
        "autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3",
    ),
    "flaml": ("flaml[automl]==2.7.0",),
}
# Real data sets of the corpus up to ~40,000 rows, all three tasks, smallest first.
DEFAULT = (
    "penguins", "cars", "pbc", "housing", "stocks", "gbsg2", "biopsy", "anes96", "titanic",
    "seattle_weather", "forbes2000", "actg175", "chile", "airports", "diamonds", "computers",
    "catholic", "txhousing", "seattle_temps", "happiness", "countymurders",
)  # fmt: skip
CACHE = RESULTS / "automl"
FIT_SCRIPT = Path(__file__).with_name("automl_fit.py")
WARM_UP_CALLS = 5
LATENCY_CALLS = 1000
# The targets of issue 23.
AT_LEAST_AS_GOOD = 0.0  # mean relative difference to AutoGluon, %
WORST_ALLOWED = -1.0  # on any one data set, %
TRAIN_SHARE = 0.1  # conveyor's training seconds / AutoGluon's, median
P99_MS = 2.0


def score(metric: str, truth: pd.Series, predicted: list[Any]) -> float:
    """The held-out metric: ``predicted`` holds the last class's probability (ROC-AUC),
    labels (macro F1) or numbers (RMSE)."""
    if metric == "rmse":
        values = np.asarray(predicted, dtype="float64")
        return float(np.sqrt(mean_squared_error(truth.astype("float64"), values)))
    labels = truth.astype(str)
    if metric == "roc_auc":
        return float(roc_auc_score(labels == positive(labels), predicted))
    return float(f1_score(labels, [label(p) for p in predicted], average="macro"))


def positive(labels: pd.Series) -> str:
    """The class whose probability ROC-AUC ranks by: the last in sort order (as real_files)."""
    return str(sorted(labels.unique())[-1])


def run(names: list[str], sides: tuple[str, ...], force: bool) -> dict[str, Any]:
    """Run the missing (or, with ``force``, all chosen) sides of each named data set, caching
    each as it finishes; returns the run's seconds and the machine's load at its ends."""
    started = time.perf_counter()
    load_before = _load()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-automl-"))
    try:
        paths = build(CORPUS, set(names))
        by_name = {d.name: d for d in datasets()}
        for name in names:
            if name not in paths:
                print(f"-- {name}: not in the corpus", flush=True)
                continue
            _dataset(by_name[name], paths[name], workdir / name, sides, force)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [load_before, _load()],
        "sides": list(sides),
        "names": names,
    }


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _dataset(
    dataset: Dataset, path: Path, workdir: Path, sides: tuple[str, ...], force: bool
) -> None:
    cached = _cached(dataset.name)
    todo = [s for s in sides if force or not (cached.get(s) or {}).get("metric_value")]
    if not todo:
        return
    parts = real_files.split_file(dataset, path)
    metric = default_metric(Task(dataset.task))
    about = {"name": dataset.name, "rows": len(parts.table.records), "task": dataset.task}
    about.update(metric=metric, held_out=len(parts.scored), seed=real_files.SEED)
    truth = parts.clean[dataset.target].iloc[parts.scored]
    for side in todo:
        print(
            f"-- {dataset.name} ({len(parts.table.records)} rows, {dataset.task}): {side}",
            flush=True,
        )
        load = _load()
        begun = time.perf_counter()
        if side == "conveyor":
            rows = parts.table.rows(parts.held)
            result = _conveyor(dataset, path, workdir / side, metric, truth, rows)
        else:
            budget = (_cached(dataset.name).get("conveyor") or {}).get("time_budget")
            result = _comparator(side, dataset, parts, workdir / side, metric, truth, budget)
        result["seconds"] = round(time.perf_counter() - begun, 1)
        result["load_average"] = [load, _load()]
        # Read again: another run (``--sides autogluon`` beside ``--sides conveyor,flaml``) may
        # have written its side of the same data set meanwhile.
        cached = {**_cached(dataset.name), **about, side: result}
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / f"{dataset.name}.json").write_text(json.dumps(cached, indent=2) + "\n")
        print(
            f"   {metric} {result.get('metric_value')} train {result.get('train_seconds')} s "
            f"{result.get('error') or ''}",
            flush=True,
        )


def _cached(name: str) -> dict[str, Any]:
    path = CACHE / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _conveyor(
    dataset: Dataset,
    path: Path,
    workdir: Path,
    metric: str,
    truth: pd.Series,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    os.environ["BENCH_REAL_FILES_PRESET"] = "balanced"
    os.environ.pop("BENCH_REAL_FILES_BUDGET", None)
    # A large file's search can outlast real_files' 120 s under load: this bench waits.
    real_files.TIME_LIMIT = max(real_files.TIME_LIMIT, 1200.0)
    try:
        result = real_files._one(dataset, path, workdir, serving=_http_latency)
    finally:
        os.environ.pop("BENCH_REAL_FILES_PRESET", None)
    kept = ("train_seconds", "upload_seconds", "time_budget", "winner", "conveyor_task")
    out: dict[str, Any] = {key: result.get(key) for key in (*kept, "search_seconds", "leaderboard")}
    out["latency_http"] = result.get("serving")
    # Which conveyor (the last commit to change its package): a rerun of this side after a
    # rebase replaces the data sets one by one.
    out["commit"] = subprocess.run(
        ["git", "log", "-1", "--format=%h", "--", "conveyor"],
        capture_output=True, text=True, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    predictions = result.get("predictions")
    if predictions is None:
        out["error"] = result.get("reason") or "no predictions"
        return out
    if metric == "roc_auc":
        wanted = positive(truth.astype(str))
        predictions = [p[[label(c) for c in classes].index(wanted)] for classes, p in predictions]
    out["metric_value"] = round(score(metric, truth, predictions), 5)
    import conveyor

    model = conveyor.load_model(dataset.project, home=result["home"])
    out["latency_in_process"] = _timed(model.predict, rows)
    return out


def _http_latency(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One-row ``/predict`` median and p99 on one kept-alive connection (real_files' hook)."""
    parts = urlsplit(url)
    # A long timeout: on the shared cores one request can stall for seconds.
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)

    def predict(row: dict[str, Any]) -> None:
        body = json.dumps({"instances": [row]}).encode()
        connection.request("POST", parts.path, body, {"content-type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"/predict {response.status}: {answer[:200]!r}")

    try:
        return _timed(predict, rows)
    except (OSError, RuntimeError) as exc:  # the metric is kept; the latency says why not
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        connection.close()


def _timed(call: Any, rows: list[Any]) -> dict[str, Any]:
    for i in range(WARM_UP_CALLS):
        call(rows[i % len(rows)])
    seconds = []
    for i in range(LATENCY_CALLS):
        before = time.perf_counter()
        call(rows[i % len(rows)])
        seconds.append(time.perf_counter() - before)
    ms = [1000 * s for s in seconds]
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "calls": len(ms),
    }


def _comparator(
    system: str,
    dataset: Dataset,
    parts: real_files.Split,
    workdir: Path,
    metric: str,
    truth: pd.Series,
    budget: float | None,
) -> dict[str, Any]:
    if system == "flaml" and not budget:
        return {"error": "no budget: conveyor's side has not run on this data set"}
    python = ensure_env(system, PINS[system])
    workdir.mkdir(parents=True, exist_ok=True)
    clean, target = parts.clean, dataset.target
    fit_rows = [i for i in parts.train if pd.notna(clean[target].iloc[i])]
    job = {
        "task": dataset.task,
        "target": target,
        "metric": metric,
        "budget": budget,
        "train": _columns(clean.iloc[fit_rows]),
        "test": _columns(clean.iloc[parts.scored].drop(columns=[target])),
    }
    (workdir / "job.json").write_text(json.dumps(job))
    out_path, log = workdir / "out.json", workdir / "fit.log"
    command = [str(python), str(FIT_SCRIPT), system, str(workdir / "job.json"), str(out_path)]
    with log.open("wb") as handle:
        done = subprocess.run(
            [*command, str(workdir)],
            env=_env(python, workdir),
            cwd=workdir,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0 or not out_path.exists():
        tail = " ".join(log.read_text(errors="replace").splitlines()[-5:])
        return {"error": f"{system} exited {done.returncode}: {tail[-600:]}"}
    out: dict[str, Any] = json.loads(out_path.read_text())
    if metric == "rmse":
        predicted = out.pop("predictions")
    else:
        proba = np.asarray(out.pop("proba"))
        classes = out.pop("classes")
        if metric == "roc_auc":
            predicted = list(proba[:, classes.index(positive(truth.astype(str)))])
        else:
            predicted = [classes[k] for k in proba.argmax(axis=1)]
    out["metric_value"] = round(score(metric, truth, predicted), 5)
    out["budget"] = budget
    return out


def _columns(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as bench/automl_fit.py reads it: numbers as floats, anything else as text."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not isinstance(
            column.dtype, pd.CategoricalDtype
        )
        values = column.astype("float64") if numeric else column.astype(object)
        columns.append(
            {
                "name": name,
                "kind": "number" if numeric else "category",
                "values": [
                    None if pd.isna(v) else (float(v) if numeric else str(v)) for v in values
                ],
            }
        )
    return columns


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """The command line: run, print the table, write bench/results/automl.json and
    BENCHMARKS.md (the other sections as their last runs left them)."""
    from bench.report import render

    parser = argparse.ArgumentParser(
        prog="python -m bench.automl", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="this data set only (repeatable; default: the 21 of DEFAULT)",
    )
    parser.add_argument(
        "--sides",
        default=",".join(SIDES),
        help="which to run: conveyor, autogluon, flaml (comma-separated)",
    )
    parser.add_argument(
        "--force", action="store_true", help="run the chosen sides again even when cached"
    )
    parser.add_argument(
        "--note",
        help="how this run was made, shown in BENCHMARKS.md (kept from the last run if not given)",
    )
    args = parser.parse_args(argv)
    sides = tuple(s for s in args.sides.split(",") if s)
    unknown = set(sides) - set(SIDES)
    if unknown:
        parser.error(f"unknown side(s) {sorted(unknown)}; choose from {', '.join(SIDES)}")
    uptime = [_uptime()]
    print(f"start: {uptime[0]}", flush=True)
    names = [n for only in args.only for n in only.split(",") if n] or list(DEFAULT)
    ran = run(names, sides, args.force)
    uptime.append(_uptime())
    print(f"end: {uptime[1]}", flush=True)
    # The table and the file cover every data set cached, not only this run's.
    summary = {**cached_summary(), "run": {**ran, "uptime": uptime}}
    last = RESULTS / "automl.json"
    kept = json.loads(last.read_text()).get("note") if last.exists() else None
    summary["note"] = args.note or kept
    write_json("automl.json", summary)
    (ROOT / "BENCHMARKS.md").write_text(render(automl=summary))
    print("\n".join(table_lines(summary)))
    return summary


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cached_summary() -> dict[str, Any]:
    """``summarize`` over every data set cached so far (DEFAULT's order, then any other), with
    the comparators' versions and the split's seed."""
    names = [*DEFAULT, *sorted(p.stem for p in CACHE.glob("*.json") if p.stem not in DEFAULT)]
    files = [CACHE / f"{n}.json" for n in names]
    rows = [json.loads(f.read_text()) for f in files if f.exists()]
    summary = summarize(rows)
    summary["seed"] = real_files.SEED
    summary["versions"] = {system: _version(rows, system) for system in SYSTEMS}
    return summary


def _version(rows: list[dict[str, Any]], system: str) -> str | None:
    return next((r[system]["version"] for r in rows if (r.get(system) or {}).get("version")), None)


if __name__ == "__main__":
    main()
