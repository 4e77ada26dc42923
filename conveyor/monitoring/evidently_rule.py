"""Evidently's default drift rule, computed on the same values as ours, for comparison.

Evidently (DataDriftPreset with no options) picks one test per column from the reference
size: up to 1,000 reference rows, the two-sample KS test for numeric columns with more than
5 distinct values, else chi-square (more than 2 values) or a two-proportion z-test, each
at p < 0.05; above 1,000 rows, the Wasserstein distance normed by the reference's standard
deviation, or the Jensen-Shannon distance, each with a 0.1 threshold. The dataset drifts
when at least half of the columns do.

Our reference is the profile, so two things are approximated: numeric columns are compared
with the profile's reference sample (up to 2,000 training values; the whole reference when
training had no more), and a categorical column's rare values are the profile's "other"
bucket rather than each value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from scipy.spatial.distance import jensenshannon

from conveyor.monitoring.drift_stats import ks_against_sample, two_proportions, value_counts
from conveyor.monitoring.profile import OTHER

SMALL_REFERENCE_ROWS = 1000
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
DATASET_SHARE = 0.5
_NUMERIC_MIN_DISTINCT = 5


def numeric(base: dict[str, Any], values: np.ndarray, reference_rows: int) -> dict[str, Any]:
    """Evidently's verdict for a numeric column (``values`` without missing ones)."""
    sample = np.asarray(base.get("sample") or [], dtype=float)
    if len(sample) == 0 or len(values) == 0:
        return {"test": None, "score": None, "threshold": None, "drift": False}
    distinct = len(np.unique(sample))
    if distinct <= _NUMERIC_MIN_DISTINCT:
        distinct = len(np.unique(np.concatenate([sample, values])))
    if distinct > _NUMERIC_MIN_DISTINCT:
        if reference_rows <= SMALL_REFERENCE_ROWS:
            return _p_test("K-S", ks_against_sample(np.sort(sample), values)[1])
        norm = max(float(np.std(sample)), 0.001)
        return _distance("Wasserstein (normed)", wasserstein(sample, values) / norm)
    keys, ref, cur = _counts_of(sample, values)
    return _discrete(keys, ref, cur, reference_rows)


def categorical(base: dict[str, Any], values: pl.Series, reference_rows: int) -> dict[str, Any]:
    """Evidently's verdict for a categorical column (``values`` as text, without missing)."""
    frequencies: dict[str, int] = dict(base.get("frequencies") or {})
    if not frequencies or len(values) == 0:
        return {"test": None, "score": None, "threshold": None, "drift": False}
    live = value_counts(values)
    if OTHER in frequencies:  # the profile lumps training's rare values: lump live's alike
        rare = sum(n for k, n in live.items() if k not in frequencies)
        live = {k: n for k, n in live.items() if k in frequencies} | {OTHER: rare}
    keys = list(dict.fromkeys([*frequencies, *live]))
    ref = np.array([frequencies.get(k, 0) for k in keys], dtype=float)
    cur = np.array([live.get(k, 0) for k in keys], dtype=float)
    return _discrete(keys, ref, cur, reference_rows)


def dataset_verdict(features: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Which columns Evidently's defaults flag, their share, and its dataset-drift verdict."""
    drifted = [name for name, f in features.items() if f.get("evidently", {}).get("drift")]
    share = len(drifted) / len(features) if features else 0.0
    return {
        "rule": "Evidently defaults",
        "drifted_features": drifted,
        "share": share,
        "dataset_drift": share >= DATASET_SHARE,
    }


def wasserstein(sample: np.ndarray, live: np.ndarray) -> float:
    """The 1-Wasserstein distance between ``sample`` and ``live``, without sorting ``live``.

    It is the area between the two CDFs. Between neighbouring sample values the sample's
    CDF is flat and the live one's integral is a sum over the live values there; the
    absolute value of that difference is the area, exactly unless the CDFs cross inside
    the interval (then it is a slight underestimate).
    """
    points, counts = np.unique(sample, return_counts=True)
    n = len(live)
    ref_cdf = np.cumsum(counts) / len(sample)
    index = np.searchsorted(points, live, side="right")  # points[index-1] <= x < points[index]
    below = index == 0
    above = index == len(points)
    area = float((points[0] - live[below]).sum() + (live[above] - points[-1]).sum()) / n
    inside = ~(below | above)
    # Per interval j = [points[j-1], points[j]): sum of (points[j] - x) over its live values.
    right_edge = points[np.minimum(index, len(points) - 1)]
    weights = np.where(inside, right_edge - live, 0.0)
    tail = np.bincount(index, weights=weights, minlength=len(points) + 1)[1 : len(points)]
    live_lt = np.cumsum(np.bincount(index, minlength=len(points) + 1))[: len(points) - 1] / n
    widths = np.diff(points)
    live_area = live_lt * widths + tail / n
    area += float(np.abs(live_area - ref_cdf[:-1] * widths).sum())
    return area


def _discrete(
    keys: list[Any], ref: np.ndarray, cur: np.ndarray, reference_rows: int
) -> dict[str, Any]:
    if reference_rows > SMALL_REFERENCE_ROWS:
        return _distance("Jensen-Shannon", _jensen_shannon(ref, cur))
    if len(keys) > 2:
        return _p_test("chi-square", _chi_square_goodness(ref, cur))
    return _p_test(
        "Z-test", two_proportions(int(ref[0]), int(ref.sum()), int(cur[0]), int(cur.sum()))
    )


def _chi_square_goodness(ref: np.ndarray, cur: np.ndarray) -> float:
    # Evidently's form: the reference counts scaled to the current size are "expected".
    expected = ref * cur.sum() / ref.sum()
    if np.any((expected == 0) & (cur > 0)):
        return 0.0  # a value the reference never had: infinitely unlikely under it
    keep = expected > 0
    return float(stats.chisquare(cur[keep], expected[keep]).pvalue)


def _jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> float:
    ref_p, cur_p = ref / ref.sum(), cur / cur.sum()
    for p in (ref_p, cur_p):
        smallest = p[p > 0].min()
        p[p == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return float(jensenshannon(ref_p, cur_p))


def _counts_of(
    sample: np.ndarray, values: np.ndarray
) -> tuple[list[float], np.ndarray, np.ndarray]:
    keys = np.unique(np.concatenate([sample, values]))
    ref = np.bincount(np.searchsorted(keys, sample), minlength=len(keys)).astype(float)
    cur = np.bincount(np.searchsorted(keys, values), minlength=len(keys)).astype(float)
    return [float(k) for k in keys], ref, cur


def _p_test(name: str, p_value: float) -> dict[str, Any]:
    return {
        "test": name,
        "score": p_value,
        "threshold": P_THRESHOLD,
        "drift": p_value < P_THRESHOLD,
    }


def _distance(name: str, distance: float) -> dict[str, Any]:
    return {
        "test": name,
        "score": distance,
        "threshold": DISTANCE_THRESHOLD,
        "drift": distance >= DISTANCE_THRESHOLD,
    }
