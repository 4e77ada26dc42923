"""The batch benchmark's baseline: the same file scored by hand — read in the same chunks with
the same reader, categories mapped to the codes the model was trained with, the bare booster
called on each chunk, the rows written out with their probabilities.

``python bench/bare_batch.py MODEL_DIR CSV OUT CHUNK_ROWS`` prints its seconds as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pyarrow.csv as pacsv


def main(model_dir: Path, csv: Path, out: Path, chunk_rows: int) -> dict[str, float]:
    started = time.perf_counter()
    booster = lgb.Booster(model_file=str(model_dir / "model.txt"))
    encoder = json.loads((model_dir / "encoder.json").read_text())
    names = [f["name"] for f in json.loads((model_dir / "schema.json").read_text())["features"]]
    categories: dict[str, list[str]] = encoder["categories"]
    reader = pacsv.open_csv(csv, read_options=pacsv.ReadOptions(block_size=1 << 22))
    pending: list[pl.DataFrame] = []
    rows = 0
    first = True
    with out.open("wb") as handle:
        for batch in reader:
            pending.append(pl.from_arrow(batch))  # type: ignore[arg-type]
            rows += batch.num_rows
            if rows < chunk_rows:
                continue
            chunk = pl.concat(pending)
            pending, rows = [], 0
            _score(booster, chunk, names, categories).write_csv(handle, include_header=first)
            first = False
        if pending:
            chunk = pl.concat(pending)
            _score(booster, chunk, names, categories).write_csv(handle, include_header=first)
    return {"seconds": time.perf_counter() - started}


def _score(
    booster: lgb.Booster, chunk: pl.DataFrame, names: list[str], categories: dict[str, list[str]]
) -> pl.DataFrame:
    columns = []
    for name in names:
        if name in categories:
            codes = {value: float(i) for i, value in enumerate(categories[name])}
            columns.append(
                pl.col(name).replace_strict(codes, default=None, return_dtype=pl.Float64)
            )
        else:
            columns.append(pl.col(name).cast(pl.Float64))
    matrix = chunk.select(columns).to_numpy()
    probability = booster.predict(matrix)
    return chunk.with_columns(
        prediction=pl.Series((probability >= 0.5).astype(np.int64)),
        proba_0=pl.Series(1.0 - probability),
        proba_1=pl.Series(probability),
    )


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    print(json.dumps(result))
