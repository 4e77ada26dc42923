"""The pipeline benchmark's data: a generated N-row, 30-column CSV (24 numeric features, 5
categorical, a binary target) with missing values in both kinds, and a signal the model can
learn. Generated, never downloaded; the same seed gives the same file.

The messy variant holds the same rows as a European spreadsheet exports them: `;` between
fields, decimal commas, money as ``1.234,50 €``, a percentage, a column of numbers that says
``unknown`` now and then, and a timestamp like ``08/06/20 18:57``.

``python bench/data.py ROWS PATH [--messy]`` writes one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

NUMERIC = 24
CATEGORIES = {
    "plan": ("basic", "standard", "pro", "enterprise"),
    "region": ("north", "south", "east", "west", "central"),
    "channel": ("web", "store", "phone"),
    "device": ("ios", "android", "desktop", "tablet"),
    "segment": tuple(f"s{i:02d}" for i in range(20)),
}
TARGET = "churned"
MISSING_SHARE = 0.05


def make_frame(rows: int, *, seed: int = 11) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(0.0, 1.0, (rows, NUMERIC))
    numeric[:, 1::3] = np.exp(numeric[:, 1::3])  # some skewed columns, as money and counts are
    logit = numeric[:, 0] - 0.8 * numeric[:, 3] + 0.5 * numeric[:, 6] * numeric[:, 9]
    columns: dict[str, pl.Series] = {}
    for name, values in CATEGORIES.items():
        codes = rng.integers(0, len(values), rows)
        logit += (codes == 0) * 0.7 if name in ("plan", "channel") else 0.0
        labels = np.asarray(values, dtype=object)[codes]
        labels[rng.random(rows) < MISSING_SHARE] = None
        columns[name] = pl.Series(name, labels.tolist(), dtype=pl.String)
    numeric[rng.random((rows, NUMERIC)) < MISSING_SHARE] = np.nan
    frame = pl.DataFrame({f"x{i:02d}": numeric[:, i].round(4) for i in range(NUMERIC)}).fill_nan(
        None
    )
    target = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return frame.with_columns(*columns.values(), pl.Series(TARGET, target.astype(np.int8)))


def write_csv(path: Path, rows: int, *, seed: int = 11) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_frame(rows, seed=seed).write_csv(path)
    return path


MONEY, PERCENT, SOMETIMES_UNKNOWN = "x01", "x04", "x07"
UNKNOWN_SHARE = 0.01


def write_messy_csv(path: Path, rows: int, *, seed: int = 11) -> Path:
    frame = make_frame(rows, seed=seed)
    rng = np.random.default_rng(seed + 1)
    numbers = [c for c in frame.columns if c.startswith("x")]
    messy = frame.with_columns(
        pl.col(c).cast(pl.String).str.replace(".", ",", literal=True) for c in numbers
    ).with_columns(
        pl.Series(MONEY, [_euros(v) for v in frame.get_column(MONEY).to_list()]),
        (pl.col(PERCENT) + "%").alias(PERCENT),
        pl.when(pl.Series(rng.random(rows) < UNKNOWN_SHARE))
        .then(pl.lit("unknown"))
        .otherwise(pl.col(SOMETIMES_UNKNOWN))
        .alias(SOMETIMES_UNKNOWN),
        _timestamps(rows, rng),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    messy.write_csv(path, separator=";")
    return path


def _euros(value: float | None) -> str | None:
    if value is None:
        return None
    text = f"{value * 100:,.2f}"  # 1,234.50
    return text.replace(",", " ").replace(".", ",").replace(" ", ".") + " €"


def _timestamps(rows: int, rng: np.random.Generator) -> pl.Series:
    start = 1_546_300_800  # 2019-01-01, in seconds since the epoch
    seconds = start + rng.integers(0, 5 * 365 * 86400, rows)
    moments = pl.Series(seconds * 1_000_000).cast(pl.Datetime("us"))
    return moments.dt.strftime("%d/%m/%y %H:%M").alias("signed up")


if __name__ == "__main__":
    writer = write_messy_csv if "--messy" in sys.argv else write_csv
    print(writer(Path(sys.argv[2]), int(sys.argv[1])))
