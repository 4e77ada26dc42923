"""``make bench``: every benchmark in one run, on this machine, side by side with its baseline.

Writes bench/results/latest.json (every figure) and BENCHMARKS.md (the tables, the targets and
whether each was met, the machine, the versions and the date).
``BENCH_ONLY=serve,pipeline`` runs a subset (the other sections keep the last run's figures);
``BENCH_SECONDS`` sets each wrk run's length.
``python -m bench.real_files`` runs the real-file corpus alone and adds its section to
BENCHMARKS.md without running the rest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench import (
    batch_predict,
    cold_start,
    drift,
    lambda_cold_start,
    mlflow_export,
    pipeline,
    real_files,
    serve,
    ui_load,
)
from bench.common import ROOT, machine, write_json
from bench.report import last_figures, targets, to_markdown

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ALL = (
    "serve",
    "pipeline",
    "batch",
    "cold_start",
    "lambda",
    "drift",
    "ui_load",
    "real_files",
    "mlflow_export",
)


def main() -> None:
    only = [s for s in os.environ.get("BENCH_ONLY", ",".join(ALL)).split(",") if s]
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    # A subset replaces its own sections and keeps the others' figures from the last run, so
    # BENCHMARKS.md never loses a section that was not run this time.
    results: dict[str, Any] = last_figures() if set(only) < set(ALL) else {}
    results["machine"] = machine()
    try:
        if "serve" in only:
            print("== serving", flush=True)
            results["serving"] = serve.run(workdir / "serve")
        if "pipeline" in only or "batch" in only:
            print("== pipeline", flush=True)
            (workdir / "pipeline").mkdir()
            results["pipeline"] = pipeline.run(workdir / "pipeline", ROWS)
        if "batch" in only:
            print("== batch predict", flush=True)
            results["batch"] = batch_predict.run(
                Path(results["pipeline"]["home"]),
                workdir / "pipeline" / "data.csv",
                pipeline.PROJECT,
                ROWS,
            )
        if "cold_start" in only:
            print("== cold start", flush=True)
            results["cold_start"] = cold_start.run(workdir / "cold")
        if "lambda" in only:
            print("== Lambda cold start", flush=True)
            results["lambda_cold_start"] = lambda_cold_start.run(workdir / "lambda")
            write_json("lambda_cold_start.json", results["lambda_cold_start"])
        if "drift" in only:
            print("== drift", flush=True)
            (workdir / "drift").mkdir()
            results["drift"] = drift.run(workdir / "drift")
        if "ui_load" in only:
            print("== dashboard page load", flush=True)
            results["ui_load"] = ui_load.run(workdir / "ui_load")
        if "real_files" in only:
            print("== real files", flush=True)
            (workdir / "real_files").mkdir()
            names = {n for n in os.environ.get("BENCH_REAL_FILES", "").split(",") if n}
            results["real_files"] = real_files.run(workdir / "real_files", names or None)
            write_json("real_files.json", results["real_files"])
        if "mlflow_export" in only:
            print("== MLflow export under mlflow models serve", flush=True)
            results["mlflow_export"] = mlflow_export.run(workdir / "mlflow_export")
            write_json("mlflow_export.json", results["mlflow_export"])
        results["targets"] = targets(results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_json("latest.json", results)
    (ROOT / "BENCHMARKS.md").write_text(to_markdown(results))
    for target in results["targets"]:
        mark = {True: "met", False: "MISSED", None: "-"}[target["met"]]
        print(f"{mark:6s} {target['name']}: {target['measured']} (target {target['target']})")


if __name__ == "__main__":
    main()
