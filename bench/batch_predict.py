"""Batch predict benchmark: the pipeline benchmark's 1,000,000-row file scored by
``conveyor predict`` with the model that benchmark deployed, beside the bare booster on the
same chunks (bench/bare_batch.py): rows/s and peak memory of each command, the medians of
three runs of each, alternating, so both see the same machine.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.common import CONVEYOR, ROOT, run_measured
from conveyor.config import Settings
from conveyor.serving.batch import DEFAULT_CHUNK_ROWS

REPEATS = 3


def run(home: Path, csv: Path, project: str, rows: int) -> dict[str, Any]:
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    scored = csv.with_name("scored-conveyor.csv")
    conveyor_command = [
        str(CONVEYOR),
        "predict",
        project,
        "--input",
        str(csv),
        "--output",
        str(scored),
        "--json",
    ]
    model_dir = next(
        p
        for p in Settings(home=home).serving_cache_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )
    bare_scored = csv.with_name("scored-bare.csv")
    bare_command = [
        sys.executable,
        str(ROOT / "bench" / "bare_batch.py"),
        str(model_dir),
        str(csv),
        str(bare_scored),
        str(DEFAULT_CHUNK_ROWS),
    ]
    runs: dict[str, list[tuple[float, float]]] = {"conveyor": [], "bare": []}
    for _ in range(REPEATS):
        seconds, peak, _ = run_measured(conveyor_command, env=env)
        runs["conveyor"].append((seconds, peak))
        seconds, peak, _ = run_measured(bare_command)
        runs["bare"].append((seconds, peak))
    same = _same_probabilities(scored, bare_scored)
    scored.unlink()
    bare_scored.unlink()
    conveyor, bare = _median(runs["conveyor"], rows), _median(runs["bare"], rows)
    return {
        "rows": rows,
        "chunk_rows": DEFAULT_CHUNK_ROWS,
        "repeats": REPEATS,
        "conveyor": conveyor,
        "bare": bare,
        "throughput_ratio": round(bare["seconds"] / conveyor["seconds"], 3),
        "all_seconds": {name: [round(s, 2) for s, _ in every] for name, every in runs.items()},
        "same_probabilities": same,
    }


def _median(runs: list[tuple[float, float]], rows: int) -> dict[str, Any]:
    seconds = statistics.median(s for s, _ in runs)
    return {
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_mb": round(max(peak for _, peak in runs)),
    }


def _same_probabilities(a: Path, b: Path) -> bool:
    import polars as pl

    left = pl.read_csv(a, columns=["proba_1"]).get_column("proba_1")
    right = pl.read_csv(b, columns=["proba_1"]).get_column("proba_1")
    return bool(len(left) == len(right) and ((left - right).abs() < 1e-9).all())


if __name__ == "__main__":
    home, csv = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(run(home, csv, sys.argv[3], int(sys.argv[4])), indent=2))
