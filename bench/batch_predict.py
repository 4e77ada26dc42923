"""Batch predict benchmark: the pipeline benchmark's 1,000,000-row file scored by
``conveyor predict`` with the model that benchmark deployed, beside the bare booster on the
same chunks (bench/bare_batch.py): rows/s and peak memory of each command.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.common import CONVEYOR, ROOT, run_measured
from conveyor.serving.batch import DEFAULT_CHUNK_ROWS


def run(home: Path, csv: Path, project: str, rows: int) -> dict[str, Any]:
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    scored = csv.with_name("scored-conveyor.csv")
    seconds, peak, _ = run_measured(
        [str(CONVEYOR), "predict", project, "--input", str(csv), "--output", str(scored), "--json"],
        env=env,
    )
    model_dir = next(
        p for p in (home / "serving-cache").iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    bare_scored = csv.with_name("scored-bare.csv")
    bare_seconds, bare_peak, _ = run_measured(
        [
            sys.executable,
            str(ROOT / "bench" / "bare_batch.py"),
            str(model_dir),
            str(csv),
            str(bare_scored),
            str(DEFAULT_CHUNK_ROWS),
        ]
    )
    same = _same_probabilities(scored, bare_scored)
    scored.unlink()
    bare_scored.unlink()
    return {
        "rows": rows,
        "chunk_rows": DEFAULT_CHUNK_ROWS,
        "conveyor": {
            "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds),
            "peak_mb": round(peak),
        },
        "bare": {
            "seconds": round(bare_seconds, 2),
            "rows_per_second": round(rows / bare_seconds),
            "peak_mb": round(bare_peak),
        },
        "throughput_ratio": round(bare_seconds / seconds, 3),
        "same_probabilities": same,
    }


def _same_probabilities(a: Path, b: Path) -> bool:
    import polars as pl

    left = pl.read_csv(a, columns=["proba_1"]).get_column("proba_1")
    right = pl.read_csv(b, columns=["proba_1"]).get_column("proba_1")
    return bool(len(left) == len(right) and ((left - right).abs() < 1e-9).all())


if __name__ == "__main__":
    home, csv = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(run(home, csv, sys.argv[3], int(sys.argv[4])), indent=2))
