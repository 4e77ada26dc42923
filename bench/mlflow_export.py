"""The MLflow export, checked by MLflow itself: ``churn`` trained by conveyor's pipeline,
exported with ``conveyor models export churn 1 --format mlflow``, served by ``mlflow models serve
--env-manager local`` from the comparators' MLflow virtualenv (bench/.venvs/mlflow, with conveyor
installed into it from this checkout: the export's loader imports conveyor), and asked the same
rows as ``conveyor serve``'s ``/predict``, in MLflow's two DataFrame bodies: ``dataframe_split``
with typed JSON values (numbers, nulls) and ``dataframe_records`` with the cells as the CSV
writes them (strings, empty cells as null).

Standalone: ``python -m bench.mlflow_export [--record]``; ``--record`` writes
bench/results/mlflow_export.json and adds the section to BENCHMARKS.md.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import CONVEYOR, ROOT, free_port, machine, post, run_standalone, write_json
from bench.comparators import PINS, ensure_env, serve_mlflow_model
from bench.ui_load import PROJECT, serving, train_project
from conveyor.model.artifact import Prediction
from conveyor.samples.generate import make_churn
from conveyor.serving.mlflow_pyfunc import answers

ROWS = 300
SEED = 29  # rows the model never saw (it trained on seed 11's)
STAMP = ".conveyor-installed"


def install_conveyor(python: Path) -> None:
    """conveyor (this checkout, editable: the venv follows the working tree) and its
    dependencies into the MLflow venv, once per venv."""
    stamp = python.parent.parent / STAMP
    if stamp.exists() and stamp.read_text() == str(ROOT):
        return
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "-e", str(ROOT)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"installing conveyor into {python} failed:\n{done.stderr[-3000:]}")
    stamp.write_text(str(ROOT))


def bodies(rows: int = ROWS) -> dict[str, bytes]:
    """The same ``rows`` rows in MLflow's two DataFrame shapes."""
    frame = make_churn(rows, seed=SEED).drop("churned")
    split = {"columns": frame.columns, "data": [list(row) for row in frame.iter_rows()]}
    buffer = io.StringIO()
    frame.write_csv(buffer)
    records = [
        {name: cell or None for name, cell in row.items()}
        for row in csv.DictReader(io.StringIO(buffer.getvalue()))
    ]
    return {
        "dataframe_split": json.dumps({"dataframe_split": split}).encode(),
        "dataframe_records": json.dumps({"dataframe_records": records}).encode(),
    }


def _conveyor_answers(base: str, body: bytes) -> list[dict[str, Any]]:
    status, raw = post(f"{base}/predict/{PROJECT}", body, timeout=60)
    if status != 200:
        raise RuntimeError(f"conveyor answered {status}: {raw[:500]!r}")
    answer = json.loads(raw)
    # As the export's loader words its answers, to compare them field by field.
    return answers(Prediction(answer["predictions"], answer["probabilities"], answer["classes"]))


def _compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    if len(ours) != len(theirs):
        raise RuntimeError(f"{len(ours)} answers from conveyor, {len(theirs)} from MLflow")
    pairs = list(zip(ours, theirs, strict=True))
    keys_differ = sum(set(a) != set(b) for a, b in pairs)
    labels_differ = sum(a["prediction"] != b["prediction"] for a, b in pairs)
    gaps = [abs(a[k] - b[k]) for a, b in pairs for k in a if k.startswith("proba_") and k in b]
    return {
        "rows": len(ours),
        "answers_with_other_fields": keys_differ,
        "labels_differing": labels_differ,
        "max_probability_difference": max(gaps, default=None),
    }


def run(workdir: Path) -> dict[str, Any]:
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    train_project(home)
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    export = workdir / "churn-mlflow"
    started = time.perf_counter()
    subprocess.run(
        [str(CONVEYOR), "models", "export", PROJECT, "1", "--format", "mlflow", "-o", str(export)],
        env=env,
        check=True,
        capture_output=True,
    )
    export_seconds = time.perf_counter() - started
    files = sorted(str(p.relative_to(export)) for p in export.rglob("*") if p.is_file())
    python = ensure_env("mlflow")
    install_conveyor(python)
    requests = bodies()
    with serving(home, workdir / "conveyor-serve.log") as base:
        ours = {shape: _conveyor_answers(base, body) for shape, body in requests.items()}
    started = time.perf_counter()
    server = serve_mlflow_model(
        python, export, free_port(), workdir / "mlflow", bodies(1)["dataframe_split"]
    )
    ready_seconds = time.perf_counter() - started
    try:
        theirs = {}
        for shape, body in requests.items():
            status, raw = post(server.url, body, timeout=60)
            if status != 200:
                raise RuntimeError(f"mlflow models serve answered {status}: {raw[:500]!r}")
            theirs[shape] = server.answers(raw)
    finally:
        server.stop()
    return {
        "project": PROJECT,
        "mlflow": next(p for p in PINS["mlflow"] if p.startswith("mlflow")),
        "export_seconds": round(export_seconds, 2),
        "mlflow_ready_seconds": round(ready_seconds, 2),
        "bodies": {shape: _compare(ours[shape], theirs[shape]) for shape in requests},
        "files": files,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": machine(),
    }


def section(figures: dict[str, Any]) -> list[str]:
    """BENCHMARKS.md's section."""
    rows = [
        f"| `{shape}` | {b['rows']} | {b['labels_differing']} | "
        f"{b['max_probability_difference']} | {b['answers_with_other_fields']} |"
        for shape, b in figures["bodies"].items()
    ]
    return [
        "",
        "## MLflow export",
        "",
        f"`conveyor models export {figures['project']} 1 --format mlflow` "
        f"({figures['export_seconds']} s) served by `mlflow models serve --env-manager local` "
        f"({figures['mlflow']}, conveyor installed in its venv; ready in "
        f"{figures['mlflow_ready_seconds']} s), asked the same rows as conveyor's `/predict`, "
        "rows the model never saw, in each of MLflow's DataFrame bodies (`dataframe_split` with "
        "typed values and nulls; `dataframe_records` with the CSV's cells as strings).",
        "",
        "| body | rows | labels differing | max probability difference | answers with other "
        "fields |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"The directory: {', '.join(f'`{name}`' for name in figures['files'])}. Measured "
        f"{figures['machine']['date']} (1-minute load average {figures['load_average_1min']}).",
    ]


def record(figures: dict[str, Any]) -> None:
    """The figures into bench/results/mlflow_export.json, and the section into BENCHMARKS.md."""
    from bench.report import render

    write_json("mlflow_export.json", figures)
    (ROOT / "BENCHMARKS.md").write_text(render(mlflow_export=figures))


if __name__ == "__main__":
    run_standalone(
        run, record, description=__doc__.splitlines()[0], prefix="conveyor-mlflow-export-"
    )
