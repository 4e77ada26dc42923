"""The two-sample statistics drift checks are made of: PSI, KS against a reference sample,
chi-square on counts, the two-proportion z-test.

The distributions come from ``scipy.special`` rather than ``scipy.stats``: importing the
latter costs half a second, a tenth of a check over a million records. The statistics
themselves are the textbook formulas; tests hold them equal to ``scipy.stats``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

# Empty bins get this share, so that PSI stays finite (the usual convention).
EPSILON = 1e-4


def psi(baseline: np.ndarray, live: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = np.maximum(baseline / max(baseline.sum(), 1), EPSILON)
    q = np.maximum(live / max(live.sum(), 1), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_against_sample(sample: np.ndarray, live_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value of the sorted live values against ``sample``.

    Both empirical CDFs only step at data points, and between two neighbouring sample values
    the sample's CDF is flat, so the largest gap is at a sample value (at it or just before
    it): looking up the 2,000 sample values in the sorted live column gives the exact
    statistic. (Sorting a million values costs less than looking each of them up in the
    sample.) The p-value is taken at the effective size m n / (m + n), as scipy's
    ``ks_2samp`` does.
    """
    m, n = len(sample), len(live_sorted)
    points, ref_counts = np.unique(sample, return_counts=True)
    ref_cdf = np.cumsum(ref_counts) / m  # G(points[j])
    live_le = np.searchsorted(live_sorted, points, side="right") / n  # F(points[j])
    live_lt = np.searchsorted(live_sorted, points, side="left") / n  # F just before points[j]
    ref_before = np.concatenate(([0.0], ref_cdf[:-1]))
    statistic = float(max(np.abs(live_le - ref_cdf).max(), np.abs(live_lt - ref_before).max()))
    effective = round(m * n / (m + n))
    return statistic, ks_p_value(statistic, max(effective, 1))


def ks_p_value(statistic: float, n: int) -> float:
    """P(D_n >= statistic), two-sided: twice the exact one-sided tail (``smirnov``), which
    equals scipy's ``kstwo.sf`` to within its square, so wherever a verdict depends on it."""
    # SciPy where it is used: the model server imports this module (its API's drift routes),
    # and its cold start should not pay for SciPy.
    from scipy import special

    return min(1.0, 2.0 * float(special.smirnov(n, statistic)))


def bin_counts(live_sorted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in numpy's histogram bins on ``edges`` ([a, b), the last one
    [a, b]), plus a bin below the first edge and one above the last."""
    below = np.searchsorted(live_sorted, edges, side="left")
    top = np.searchsorted(live_sorted, edges[-1], side="right")
    inside = np.diff(np.concatenate((below[:-1], [top])))
    return np.concatenate(([below[0]], inside, [len(live_sorted) - top])).astype(float)


def sort_values(values: np.ndarray) -> np.ndarray:
    """``values`` sorted, on every core (polars) for large columns."""
    if len(values) < 100_000:
        return np.sort(values)
    return pl.Series(values).sort().to_numpy()


def chi_square(baseline: np.ndarray, live: np.ndarray) -> float:
    """p-value of the chi-square test that two count vectors come from one distribution."""
    from scipy import special  # where used, as in ks_p_value

    keep = (baseline + live) > 0
    if keep.sum() < 2 or baseline.sum() == 0 or live.sum() == 0:
        return 1.0
    table = np.vstack([baseline[keep], live[keep]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(special.chdtrc(table.shape[1] - 1, statistic))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def value_counts(values: pl.Series) -> dict[str, int]:
    """How often each value occurs."""
    return {value: int(n) for value, n in values.value_counts(name="n").iter_rows()}
