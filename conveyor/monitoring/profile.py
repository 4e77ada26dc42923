"""The baseline profile of the training data: per-feature distributions that drift checks
compare live traffic against, computed once so a check never rereads the training data."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from conveyor.tabular.parallel import map_columns
from conveyor.tabular.schema import DatasetSchema, FeatureKind
from conveyor.types import Task, to_iso, utcnow

QUANTILES = tuple(round(q / 10, 1) for q in range(11))
TOP_CATEGORIES = 50
OTHER = "__other__"
# A seeded sample of each numeric feature's values, so that a drift check can run the
# two-sample KS test (and Wasserstein) without rereading the training data.
SAMPLE_SIZE = 2000
SAMPLE_SEED = 0
# The deciles of a larger feature come from a seeded sample of this many of its values, as
# profilers' quantile sketches do (a rank error of about 0.3% at this size); the extremes and
# the histogram's counts are still of every value. Sorting all 700,000 values of a column was
# 40 ms of its profile's 45; the profile of a 700,000-row split went from 0.7 s to 0.3 s.
QUANTILE_SAMPLE_SIZE = 100_000


def build_profile(frame: pl.DataFrame, schema: DatasetSchema) -> dict[str, Any]:
    """JSON-ready profile of ``frame`` (the typed training split)."""
    profiles = map_columns(
        lambda spec: _feature_profile(frame.get_column(spec.name), spec.kind),
        schema.features,
        rows=frame.height,
    )
    features = {spec.name: p for spec, p in zip(schema.features, profiles, strict=True)}
    target = frame.get_column(schema.target)
    target_kind = FeatureKind.NUMERIC if schema.classes is None else FeatureKind.CATEGORICAL
    return {
        "rows": frame.height,
        "created_at": to_iso(utcnow()),
        "features": features,
        "target": _feature_profile(target, target_kind),
    }


def _feature_profile(column: pl.Series, kind: FeatureKind) -> dict[str, Any]:
    count = len(column)
    missing = column.null_count()
    profile: dict[str, Any] = {
        "kind": kind.value,
        "count": count,
        "missing": missing,
        "missing_rate": missing / count if count else 0.0,
    }
    values = column.drop_nulls()
    if kind is FeatureKind.NUMERIC:
        profile.update(_numeric(values.cast(pl.Float64).to_numpy()))
    elif kind is FeatureKind.DATETIME:
        days = values.cast(pl.Datetime("us")).dt.epoch("d").cast(pl.Float64).to_numpy()
        profile.update(_numeric(days), unit="epoch_days")
        if len(values):
            profile.update(min_time=str(values.min()), max_time=str(values.max()))
    else:
        profile.update(_frequencies(values.cast(pl.String)))
    return profile


def _numeric(values: np.ndarray) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"quantiles": [], "histogram": {"edges": [], "counts": []}}
    if len(values) <= QUANTILE_SAMPLE_SIZE:
        ordered = np.sort(values)
        edges = _quantiles_of_sorted(ordered, QUANTILES)
        low, high = float(ordered[0]), float(ordered[-1])
    else:
        picked = np.random.default_rng(SAMPLE_SEED).integers(0, len(values), QUANTILE_SAMPLE_SIZE)
        edges = _quantiles_of_sorted(np.sort(values[picked]), QUANTILES)
        low, high = float(values.min()), float(values.max())
        edges[0], edges[-1] = low, high  # the 0 and 1 quantiles are the extremes, exactly
    bins = _bins(edges)
    counts = _histogram(values, bins)
    return {
        "sample": reference_sample(values),
        "min": low,
        "max": high,
        "mean": float(values.mean()),
        "std": float(values.std()),
        "quantiles": {str(q): float(e) for q, e in zip(QUANTILES, edges, strict=True)},
        "histogram": {"edges": [float(b) for b in bins], "counts": [int(c) for c in counts]},
    }


def _quantiles_of_sorted(ordered: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """np.quantile's default (linear) quantiles of already sorted values."""
    positions = np.asarray(quantiles) * (len(ordered) - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, len(ordered) - 1)
    weight = positions - below
    interpolated: np.ndarray = ordered[below] + weight * (ordered[above] - ordered[below])
    return interpolated


def _bins(edges: np.ndarray) -> np.ndarray:
    bins = np.unique(edges)
    return bins if len(bins) >= 2 else np.array([bins[0], bins[0]])


def _histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """np.histogram's counts of values that lie between the first and the last edge (``[a, b)``,
    the last bin closed), from a count of the values below each inner edge: 1-2 ms for
    700,000 values, against 15 ms to find each value's bin and 38 ms to sort them."""
    below = [np.count_nonzero(values < edge) for edge in bins[1:-1]]
    return np.diff(np.array([0, *below, len(values)]))


def _frequencies(values: pl.Series) -> dict[str, Any]:
    counts = values.value_counts(sort=True, name="n")
    top = counts.head(TOP_CATEGORIES)
    frequencies = {str(k): int(n) for k, n in top.iter_rows()}
    rest = int(counts.get_column("n").sum()) - sum(frequencies.values())
    if rest:
        frequencies[OTHER] = rest
    return {"distinct": counts.height, "frequencies": frequencies}


def reference_sample(values: np.ndarray) -> list[float]:
    """Up to SAMPLE_SIZE of ``values``, drawn without replacement with a fixed seed (the same
    data always gives the same sample), sorted."""
    if len(values) > SAMPLE_SIZE:
        picked = np.random.default_rng(SAMPLE_SEED).choice(len(values), SAMPLE_SIZE, replace=False)
        values = values[picked]
    return [float(v) for v in np.sort(values)]


def prediction_profile_key(project: str, run_id: str) -> str:
    """Where (in the reports bucket) a run's prediction profile is kept."""
    return f"{project}/{run_id}/prediction_profile.json"


def prediction_scores(raw: np.ndarray, task: Task) -> np.ndarray:
    """One number per prediction to watch for drift: the positive class's probability
    (binary), the top class's (multiclass), or the predicted value (regression)."""
    if task is Task.BINARY:
        return np.asarray(raw[:, 1], dtype=float)
    if task.is_classification:
        return np.asarray(raw.max(axis=1), dtype=float)
    return np.asarray(raw, dtype=float).ravel()


def prediction_profile(raw: np.ndarray, task: Task) -> dict[str, Any]:
    """The baseline of prediction drift: the model's predictions on the test split, profiled
    like a numeric feature (deciles, histogram, reference sample)."""
    scores = prediction_scores(raw, task)
    kind = "value" if task is Task.REGRESSION else "probability"
    return {"kind": kind, "task": task.value, "count": len(scores), **_numeric(scores)}
