"""Model quality parity: conveyor's registered version against a plain LightGBM script on the
same split, for scikit-learn's breast_cancer, wine and diabetes (what tests/e2e/test_parity.py
asserts within 2 %, printed as figures)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl
from sklearn import datasets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import json_of, run_cli
from tests.e2e.test_parity import plain_lightgbm

CASES = [
    ("breast-cancer", datasets.load_breast_cancer, "roc_auc"),
    ("wine", datasets.load_wine, "f1_macro"),
    ("diabetes", datasets.load_diabetes, "rmse"),
]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="conveyor-parity-"))
    home = root / "home"
    for name, loader, metric in CASES:
        bunch = loader()
        frame = pl.DataFrame(bunch.data, schema=list(bunch.feature_names), orient="row")
        csv = root / f"{name}.csv"
        frame.with_columns(target=pl.Series(bunch.target)).write_csv(csv)
        task = "regression" if metric == "rmse" else "auto"
        run = json_of(
            run_cli(
                home,
                "upload",
                str(csv),
                "-p",
                name,
                "--target",
                "target",
                "--task",
                task,
                "--wait",
                "--json",
            )
        )
        version = json_of(run_cli(home, "models", "show", name, "1", "--json"))
        plain = plain_lightgbm(
            home / "buckets" / "processed" / name / run["dataset_id"], "target", metric
        )
        ours = version["metrics"]["test"][metric]
        baseline = version["metrics"]["baseline"][metric]
        print(
            f"{name}: {metric} conveyor={ours:.4f} plain={plain:.4f} "
            f"ratio={ours / plain:.4f} baseline={baseline:.4f}"
        )


if __name__ == "__main__":
    main()
