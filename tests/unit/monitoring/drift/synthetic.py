"""Training-like data for the drift tests: 20 numeric and 10 categorical features of varied
shapes (skewed, discrete, with missing values, more categories than the profile names)."""

from __future__ import annotations

import numpy as np
import polars as pl

from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(10)]
_CATEGORY_COUNTS = (2, 3, 4, 6, 8, 12, 20, 30, 45, 80)


def schema() -> DatasetSchema:
    features = [FeatureSpec(name, FeatureKind.NUMERIC, nullable=True) for name in NUMERIC]
    features += [FeatureSpec(name, FeatureKind.CATEGORICAL, nullable=True) for name in CATEGORICAL]
    return DatasetSchema(target="y", task=Task.BINARY, features=tuple(features), classes=(0, 1))


def frame(rows: int, seed: int) -> pl.DataFrame:
    """``rows`` rows drawn from one fixed distribution (the seed only picks the draw)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i, name in enumerate(NUMERIC):
        shape = i % 5
        if shape == 0:
            values = rng.normal(50 + i, 10, rows)
        elif shape == 1:
            values = rng.lognormal(1.0, 0.8, rows)
        elif shape == 2:
            values = rng.poisson(3, rows).astype(float)  # few distinct values, many ties
        elif shape == 3:
            values = rng.uniform(-1, 1, rows)
        else:
            values = rng.exponential(100, rows).round(2)
        if i % 4 == 0:
            values[rng.random(rows) < 0.05] = np.nan
        columns[name] = pl.Series(name, values).fill_nan(None)
    for i, name in enumerate(CATEGORICAL):
        k = _CATEGORY_COUNTS[i]
        weights = 1 / np.arange(1, k + 1) ** 1.1  # Zipf-like: a few common, many rare
        picks = rng.choice(k, rows, p=weights / weights.sum())
        values = np.array([f"v{j}" for j in range(k)], dtype=object)[picks]
        series = pl.Series(name, values, dtype=pl.String)
        if i % 3 == 0:
            series = series.set(pl.Series(rng.random(rows) < 0.02), None)  # type: ignore[arg-type]
        columns[name] = series
    columns["y"] = rng.integers(0, 2, rows)
    return pl.DataFrame(columns)
