"""The pipeline benchmark's baseline: what a person would write by hand to get the same model —
read the CSV with polars, turn the string columns into category codes, fit LightGBM with the
same parameters conveyor uses, save the booster. No validation, no split, no registry.

``python bench/bare_pipeline.py CSV TARGET OUT_DIR PARAMS_JSON`` prints its seconds as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import lightgbm as lgb
import polars as pl

from conveyor.model.estimators import LIGHTGBM_DEFAULTS


def main(csv: Path, target: str, out: Path, params: dict[str, object]) -> dict[str, float]:
    started = time.perf_counter()
    frame = pl.read_csv(csv)
    read = time.perf_counter()
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    frame = frame.with_columns(pl.col(strings).cast(pl.Categorical).to_physical())
    y = frame[target].to_numpy()
    x = frame.drop(target).to_numpy().astype("float64")
    categorical = [i for i, name in enumerate(frame.drop(target).columns) if name in strings]
    merged = {**LIGHTGBM_DEFAULTS, **params}
    rounds = int(merged.pop("num_boost_round"))
    merged.pop("early_stopping_rounds")
    booster_params = {
        "objective": "binary",
        "verbose": -1,
        "seed": 42,
        "deterministic": True,
        "num_threads": os.cpu_count() or 1,
        **merged,
    }
    dataset = lgb.Dataset(x, y, categorical_feature=categorical, free_raw_data=True)
    booster = lgb.train(booster_params, dataset, num_boost_round=rounds)
    fitted = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / "model.txt"))
    done = time.perf_counter()
    return {
        "read": read - started,
        "fit": fitted - read,
        "save": done - fitted,
        "total": done - started,
    }


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4]))
    print(json.dumps(result))
