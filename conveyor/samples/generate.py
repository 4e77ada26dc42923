"""A synthetic customer-churn table with what real exports have: string categoricals, missing
values, a date, yes/no flags, an id column and column names with spaces.

``python -m conveyor.samples.generate`` rewrites the bundled ``churn.csv``.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from conveyor.samples import CHURN_CSV

PLANS = ("basic", "standard", "pro", "enterprise")
REGIONS = ("north", "south", "east", "west")


def make_churn(rows: int = 5000, *, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, size=rows, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice(REGIONS, size=rows).astype(object)
    region[rng.random(rows) < 0.05] = None
    age = rng.normal(42, 12, rows).clip(18, 90).round()
    tenure = rng.gamma(2.0, 14.0, rows).round()
    charges = (20 + 15 * np.searchsorted(PLANS, plan) + rng.normal(0, 8, rows)).round(2)
    calls = rng.poisson(1.5, rows)
    partner = rng.random(rows) < 0.45
    start = date(2019, 1, 1)
    signup = [start + timedelta(days=int(d)) for d in rng.integers(0, 5 * 365, rows)]
    logit = (
        -1.2
        + 0.8 * calls
        - 0.07 * tenure
        + 0.04 * (charges - 50)
        - 0.9 * partner
        + np.where(plan == "enterprise", -1.2, 0.0)
        + np.array([0.8 if d.month in (11, 12) else 0.0 for d in signup])
        - 0.02 * (age - 42)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    age_with_gaps = age.astype(object)
    age_with_gaps[rng.random(rows) < 0.08] = None
    return pl.DataFrame(
        {
            "customer id": [f"C{100000 + i}" for i in range(rows)],
            "age": pl.Series(age_with_gaps.tolist(), dtype=pl.Float64),
            "plan": plan.tolist(),
            "region": region.tolist(),
            "monthly charges": charges,
            "tenure months": tenure,
            "support calls": calls,
            "has partner": np.where(partner, "yes", "no").tolist(),
            "signup date": [d.isoformat() for d in signup],
            "churned": np.where(churned, "yes", "no").tolist(),
        }
    )


def write_churn_csv(path: Path, rows: int = 5000, *, seed: int = 7) -> Path:
    make_churn(rows, seed=seed).write_csv(path)
    return path


if __name__ == "__main__":
    write_churn_csv(CHURN_CSV)
    print(f"wrote {CHURN_CSV}")
