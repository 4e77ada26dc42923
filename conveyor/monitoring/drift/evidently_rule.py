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

from conveyor.monitoring.drift.stats import ks_against_sample, two_proportions
from conveyor.monitoring.profile import OTHER

SMALL_REFERENCE_ROWS = 1000
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
DATASET_SHARE = 0.5
_NUMERIC_MIN_DISTINCT = 5


def numeric(base: dict[str, Any], values: np.ndarray, reference_rows: int) -> dict[str, Any]:
    """Evidently's verdict for a numeric column (``values``: finite, sorted)."""
    sample = np.asarray(base.get("sample") or [], dtype=float)
    if len(sample) == 0 or len(values) == 0:
        return {"test": None, "score": None, "threshold": None, "drift": False}
    distinct = len(np.unique(sample))
    if distinct <= _NUMERIC_MIN_DISTINCT:  # values are sorted: count where they step
        distinct = len(np.unique(np.concatenate([np.unique(sample), _distinct(values)])))
    if distinct > _NUMERIC_MIN_DISTINCT:
        if reference_rows <= SMALL_REFERENCE_ROWS:
            return _p_test("K-S", ks_against_sample(sample, values)[1])
        norm = max(float(np.std(sample)), 0.001)
        return _distance("Wasserstein (normed)", wasserstein(sample, values) / norm)
    keys, ref, cur = _counts_of(sample, values)
    return _discrete(keys, ref, cur, reference_rows)


def categorical(base: dict[str, Any], live: dict[str, int], reference_rows: int) -> dict[str, Any]:
    """Evidently's verdict for a categorical column (``live``: count of each live value)."""
    frequencies: dict[str, int] = dict(base.get("frequencies") or {})
    if not frequencies or not live:
        return {"test": None, "score": None, "threshold": None, "drift": False}
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


def wasserstein(sample: np.ndarray, live_sorted: np.ndarray) -> float:
    """The 1-Wasserstein distance of ``sample`` and the sorted live values: the area between
    their CDFs, summed over the merged values (scipy's method, in linear time on the
    sorted live values: the sample's values are inserted where they fall)."""
    reference = np.sort(sample)
    m, n = len(reference), len(live_sorted)
    positions = np.searchsorted(live_sorted, reference, side="right") + np.arange(m)
    merged = np.insert(live_sorted, positions - np.arange(m), reference)
    is_reference = np.zeros(m + n, dtype=bool)
    is_reference[positions] = True
    reference_cdf = np.cumsum(is_reference)[:-1] / m
    live_cdf = np.cumsum(~is_reference)[:-1] / n
    return float(np.sum(np.abs(live_cdf - reference_cdf) * np.diff(merged)))


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
    # SciPy where it is used: the model server imports this module, and its cold start
    # should not pay for SciPy.
    from scipy import special

    # Evidently's form: the reference counts scaled to the current size are "expected".
    expected = ref * cur.sum() / ref.sum()
    if np.any((expected == 0) & (cur > 0)):
        return 0.0  # a value the reference never had: infinitely unlikely under it
    keep = expected > 0
    statistic = float(((cur[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return float(special.chdtrc(max(int(keep.sum()) - 1, 1), statistic))


def _jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy import special  # where used, as in _chi_square_goodness

    ref_p, cur_p = ref / ref.sum(), cur / cur.sum()
    for p in (ref_p, cur_p):
        smallest = p[p > 0].min()
        p[p == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    # scipy.spatial.distance.jensenshannon, natural logarithm.
    middle = (ref_p / ref_p.sum() + cur_p / cur_p.sum()) / 2
    divergence = special.rel_entr(ref_p / ref_p.sum(), middle).sum()
    divergence += special.rel_entr(cur_p / cur_p.sum(), middle).sum()
    return float(np.sqrt(max(divergence / 2, 0.0)))


def _distinct(values_sorted: np.ndarray) -> np.ndarray:
    if len(values_sorted) == 0:
        return values_sorted
    steps = np.flatnonzero(np.diff(values_sorted)) + 1
    return values_sorted[np.concatenate(([0], steps))]


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
