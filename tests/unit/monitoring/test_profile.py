from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import polars as pl

from conveyor.monitoring.profile import OTHER, QUANTILE_SAMPLE_SIZE, build_profile
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task


def test_profile_holds_the_drift_baseline_per_feature() -> None:
    n = 1000
    frame = pl.DataFrame(
        {
            "x": [float(i) if i % 10 else None for i in range(n)],
            "c": [f"k{i % 60}" for i in range(n)],
            "d": [datetime(2024, 1, 1 + i % 28) for i in range(n)],
            "y": [i % 2 for i in range(n)],
        }
    )
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        classes=(0, 1),
        features=(
            FeatureSpec("x", FeatureKind.NUMERIC, nullable=True),
            FeatureSpec("c", FeatureKind.CATEGORICAL),
            FeatureSpec("d", FeatureKind.DATETIME),
        ),
    )
    profile = build_profile(frame, schema)
    json.dumps(profile)  # it is stored as JSON
    x = profile["features"]["x"]
    assert x["missing_rate"] == 0.1
    edges = x["histogram"]["edges"]
    assert edges == sorted(edges) and len(edges) == 11
    assert sum(x["histogram"]["counts"]) == 900
    c = profile["features"]["c"]
    assert c["distinct"] == 60
    assert len(c["frequencies"]) == 51 and OTHER in c["frequencies"]
    assert sum(c["frequencies"].values()) == n
    assert profile["features"]["d"]["unit"] == "epoch_days"
    assert profile["target"]["frequencies"] == {"0": 500, "1": 500}
    assert profile["rows"] == n


def test_numeric_features_carry_a_reproducible_reference_sample() -> None:
    frame = pl.DataFrame({"x": [float(i % 997) for i in range(10_000)], "y": [0, 1] * 5000})
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        classes=(0, 1),
        features=(FeatureSpec("x", FeatureKind.NUMERIC),),
    )
    sample = build_profile(frame, schema)["features"]["x"]["sample"]

    assert len(sample) == 2000 and sample == sorted(sample)
    assert set(sample) <= {float(i) for i in range(997)}
    assert build_profile(frame, schema)["features"]["x"]["sample"] == sample
    small = build_profile(frame.head(50), schema)["features"]["x"]["sample"]
    assert small == sorted(frame.head(50)["x"].to_list())


def test_a_large_feature_has_exact_counts_and_extremes_and_close_deciles() -> None:
    values = np.random.default_rng(7).lognormal(size=QUANTILE_SAMPLE_SIZE * 3)
    frame = pl.DataFrame({"x": values, "y": [0, 1] * (len(values) // 2)})
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        classes=(0, 1),
        features=(FeatureSpec("x", FeatureKind.NUMERIC),),
    )
    x = build_profile(frame, schema)["features"]["x"]

    assert (x["min"], x["max"]) == (values.min(), values.max())
    edges = x["histogram"]["edges"]
    assert x["histogram"]["counts"] == np.histogram(values, bins=edges)[0].tolist()
    assert sum(x["histogram"]["counts"]) == len(values)
    # Each decile from the sample sits within half a percent of rank of the exact one.
    ranks = np.searchsorted(np.sort(values), list(x["quantiles"].values())) / len(values)
    assert np.abs(ranks - np.linspace(0, 1, 11)).max() < 0.005
    assert build_profile(frame, schema)["features"]["x"]["quantiles"] == x["quantiles"]
